# A host is imported by <cloud>/<vendor id>: a droplet id on DigitalOcean, an instance id on AWS.
terraform import haddock_host.web digitalocean/3164444
