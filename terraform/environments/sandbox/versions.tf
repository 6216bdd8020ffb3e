terraform {
  required_version = ">= 1.9.0" # modules/workflow: templatestring()

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}
