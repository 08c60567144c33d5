package netnsbackend

// Hostname is hostname, for the external tests.
var Hostname = hostname
