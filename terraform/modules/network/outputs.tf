output "vpc_id" {
  description = "Id of the VPC."
  value       = aws_vpc.this.id
}

output "private_subnet_ids" {
  description = "Ids of the two private subnets (for MWAA)."
  value       = aws_subnet.private[*].id
}

output "public_subnet_ids" {
  description = "Ids of the two public subnets (NAT gateway)."
  value       = aws_subnet.public[*].id
}

output "mwaa_security_group_id" {
  description = "Id of the MWAA security group."
  value       = aws_security_group.mwaa.id
}
