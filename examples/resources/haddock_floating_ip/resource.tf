resource "haddock_host" "blue" {
  cloud  = "digitalocean"
  name   = "lb-blue"
  region = "eu-central"
  size   = "small"
  image  = "debian-12"
}

resource "haddock_host" "green" {
  cloud  = "digitalocean"
  name   = "lb-green"
  region = "eu-central"
  size   = "small"
  image  = "debian-12"
}

variable "active" {
  description = "Which host holds the public address: blue or green."
  type        = string
  default     = "blue"
}

# Fail over by changing var.active: the address moves in place.
resource "haddock_floating_ip" "public" {
  cloud   = "digitalocean"
  region  = "eu-central"
  host_id = var.active == "blue" ? haddock_host.blue.id : haddock_host.green.id
}

output "address" {
  value = haddock_floating_ip.public.ip_address
}
