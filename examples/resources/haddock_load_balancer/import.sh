# DigitalOcean: the load balancer's uuid.
terraform import haddock_load_balancer.web digitalocean/4de7ac8b-495b-4884-9a69-1050c6793cd6
# AWS: the load balancer's ARN.
terraform import haddock_load_balancer.web aws/arn:aws:elasticloadbalancing:eu-central-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188
