data "haddock_catalog" "do" {
  cloud = "digitalocean"
}

# What "medium" is on each vendor.
output "medium" {
  value = one([for s in data.haddock_catalog.do.sizes : s.vendor if s.name == "medium"])
}

# The cheapest DigitalOcean sizes on offer right now.
output "cheapest_do_sizes" {
  value = slice(data.haddock_catalog.do.vendor_sizes[*].slug, 0, 3)
}
