# Against DigitalOcean: the token comes from DIGITALOCEAN_TOKEN when not set here.
provider "haddock" {
  digitalocean {
    token               = var.do_token
    requests_per_second = 10
    http_retry_max      = 4
  }
}

# AWS: credentials from the SDK's default chain (environment, ~/.aws, SSO, instance role).
provider "haddock" {
  alias = "both"
  digitalocean {
    token = var.do_token
  }
  aws {
    region     = "eu-central-1"
    retry_mode = "adaptive"
  }
}

variable "do_token" {
  type      = string
  sensitive = true
}

# Offline, against Haddock's local cloud (`make localcloud`):
# provider "haddock" {
#   digitalocean {
#     api_endpoint = "http://127.0.0.1:9080"
#     token        = "localcloud-dev-token"
#   }
# }
