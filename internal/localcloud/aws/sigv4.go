package aws

import (
	"net/http"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/awsauth"
)

// sigService is the service EC2 requests are signed for.
const sigService = "ec2"

// verifySignature checks r's SigV4 signature for EC2 (awsauth.Verify) and
// returns the region it was signed for.
func verifySignature(r *http.Request, accessKey, secretKey string, now time.Time) (string, error) {
	return awsauth.Verify(r, sigService, accessKey, secretKey, now)
}
