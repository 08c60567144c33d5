// Package awsauth verifies AWS Signature Version 4 for localcloud's AWS
// APIs (EC2, ELBv2): one implementation, the service a parameter.
package awsauth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Signature Version 4, as AWS documents it ("Create a signed AWS API
// request"): the server rebuilds the canonical request from what it
// received, the string to sign from it and the credential scope, derives
// the signing key from the secret key, and compares signatures.

const (
	sigAlgorithm = "AWS4-HMAC-SHA256"
	sigTerm      = "aws4_request"
	// maxClockSkew is how far a request's X-Amz-Date may be from now, as
	// on AWS (RequestExpired / SignatureDoesNotMatch beyond it).
	maxClockSkew = 15 * time.Minute
)

// sigAuth is a parsed Authorization header.
type sigAuth struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	signature                        string
}

// parseAuthorization parses "AWS4-HMAC-SHA256 Credential=AK/20250101/us-east-1/ec2/aws4_request,
// SignedHeaders=host;x-amz-date, Signature=hex".
func parseAuthorization(h string) (sigAuth, error) {
	var a sigAuth
	alg, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || alg != sigAlgorithm {
		return a, fmt.Errorf("authorization is not %s", sigAlgorithm)
	}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, fmt.Errorf("malformed authorization part %q", part)
		}
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != sigTerm {
				return a, fmt.Errorf("malformed credential %q", v)
			}
			a.accessKey, a.date, a.region, a.service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	if a.accessKey == "" || len(a.signedHeaders) == 0 || a.signature == "" {
		return a, fmt.Errorf("authorization lacks Credential, SignedHeaders or Signature")
	}
	return a, nil
}

// Verify checks r's SigV4 signature against accessKey and
// secretKey at now and returns the region it was signed for. It reads the
// body and leaves it readable again.
func Verify(r *http.Request, service, accessKey, secretKey string, now time.Time) (string, error) {
	a, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return "", err
	}
	if a.accessKey != accessKey {
		return "", fmt.Errorf("unknown access key %q", a.accessKey)
	}
	if a.service != service {
		return "", fmt.Errorf("signed for service %q, not %s", a.service, service)
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return "", fmt.Errorf("X-Amz-Date %q: %v", amzDate, err)
	}
	if d := now.Sub(t); d > maxClockSkew || d < -maxClockSkew {
		return "", fmt.Errorf("X-Amz-Date %s is more than %s from now (%s)", amzDate, maxClockSkew, now.UTC().Format(time.RFC3339))
	}
	if a.date != amzDate[:8] {
		return "", fmt.Errorf("credential date %s is not X-Amz-Date's %s", a.date, amzDate[:8])
	}
	if !slices.Contains(a.signedHeaders, "host") {
		return "", fmt.Errorf("host is not a signed header")
	}
	payload, err := payloadHash(r)
	if err != nil {
		return "", err
	}
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payload {
		return "", fmt.Errorf("X-Amz-Content-Sha256 is not the body's hash")
	}
	want := signature(r, a, amzDate, payload, secretKey)
	if !hmac.Equal([]byte(want), []byte(a.signature)) {
		return "", fmt.Errorf("signature does not match")
	}
	return a.region, nil
}

// Sign signs r as an AWS SDK would, for service in region by the key at
// now: it sets X-Amz-Date and an Authorization header signing host and
// X-Amz-Date. It reads the body and leaves it readable again. For tests
// and tools that talk to localcloud without an SDK.
func Sign(r *http.Request, service, region, accessKey, secretKey string, now time.Time) error {
	payload, err := payloadHash(r)
	if err != nil {
		return err
	}
	amzDate := now.UTC().Format("20060102T150405Z")
	r.Header.Set("X-Amz-Date", amzDate)
	a := sigAuth{accessKey: accessKey, date: amzDate[:8], region: region, service: service, signedHeaders: []string{"host", "x-amz-date"}}
	r.Header.Set("Authorization", fmt.Sprintf("%s Credential=%s/%s/%s/%s/%s, SignedHeaders=%s, Signature=%s",
		sigAlgorithm, accessKey, a.date, region, service, sigTerm, strings.Join(a.signedHeaders, ";"), signature(r, a, amzDate, payload, secretKey)))
	return nil
}

// payloadHash is the hex SHA-256 of r's body, which it reads and leaves
// readable again.
func payloadHash(r *http.Request) (string, error) {
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return "", err
		}
		_ = r.Body.Close()
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:]), nil
}

// signature is the signature of r by a's key, scope and signed headers,
// at amzDate, of a body with the hex SHA-256 payload.
func signature(r *http.Request, a sigAuth, amzDate, payload, secretKey string) string {
	canonical := strings.Join([]string{
		r.Method,
		uriEncode(r.URL.EscapedPath(), false),
		canonicalQuery(r.URL.Query()),
		canonicalHeaders(r, a.signedHeaders),
		strings.Join(a.signedHeaders, ";"),
		payload,
	}, "\n")
	crHash := sha256.Sum256([]byte(canonical))
	scope := strings.Join([]string{a.date, a.region, a.service, sigTerm}, "/")
	toSign := strings.Join([]string{sigAlgorithm, amzDate, scope, hex.EncodeToString(crHash[:])}, "\n")
	key := hmacSHA256([]byte("AWS4"+secretKey), a.date)
	for _, part := range []string{a.region, a.service, sigTerm} {
		key = hmacSHA256(key, part)
	}
	return hex.EncodeToString(hmacSHA256(key, toSign))
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// canonicalHeaders lists the signed headers, lower-case, their values
// trimmed with inner runs of spaces collapsed, each line ending in "\n".
func canonicalHeaders(r *http.Request, signed []string) string {
	var b strings.Builder
	for _, name := range signed {
		vals := r.Header.Values(name)
		switch {
		case name == "host":
			vals = []string{r.Host}
		case name == "content-length" && len(vals) == 0 && r.ContentLength >= 0:
			// net/http may keep it in ContentLength only.
			vals = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
		for i, v := range vals {
			vals[i] = strings.Join(strings.Fields(v), " ")
		}
		b.WriteString(name + ":" + strings.Join(vals, ",") + "\n")
	}
	return b.String()
}

// canonicalQuery sorts the parameters by name, then value, each encoded.
func canonicalQuery(q url.Values) string {
	var pairs []string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, uriEncode(k, true)+"="+uriEncode(v, true))
		}
	}
	slices.Sort(pairs)
	return strings.Join(pairs, "&")
}

// uriEncode percent-encodes every byte but the unreserved ones (and '/'
// unless slash is set), upper-case hex, as SigV4 wants.
func uriEncode(s string, slash bool) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == '/' && !slash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexd[c>>4])
			b.WriteByte(hexd[c&15])
		}
	}
	return b.String()
}

// Region is the region a request's Authorization header was signed for,
// "" when it does not parse (call it after Verify).
func Region(authorization string) string {
	a, err := parseAuthorization(authorization)
	if err != nil {
		return ""
	}
	return a.region
}

// Service is the service a request's Authorization header was signed for,
// "" when it does not parse.
func Service(authorization string) string {
	a, err := parseAuthorization(authorization)
	if err != nil {
		return ""
	}
	return a.service
}
