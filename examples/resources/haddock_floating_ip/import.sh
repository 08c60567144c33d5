# DigitalOcean reserved IPs are imported by address, AWS Elastic IPs by allocation id.
terraform import haddock_floating_ip.public digitalocean/203.0.113.10
terraform import haddock_floating_ip.public aws/eipalloc-0123456789abcdef0
