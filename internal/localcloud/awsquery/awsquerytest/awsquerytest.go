// Package awsquerytest drives one of localcloud's AWS query APIs (EC2,
// ELBv2, RDS) in process, signed as the SDK signs: what their fuzz targets
// share.
package awsquerytest

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/awsauth"
)

// Client sends form bodies to one API's handler.
type Client struct {
	Handler http.Handler
	// Service and Region are what the requests are signed for; Version
	// is the API version every body carries.
	Service, Region, Version string
	AccessKey, SecretKey     string
}

// Call sends Action=action&Version=...&form, signed, and returns the
// answer. It fails tb when the request cannot be signed.
func (c Client) Call(tb testing.TB, action, form string) *httptest.ResponseRecorder {
	tb.Helper()
	body := "Action=" + action + "&Version=" + c.Version + "&" + form
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if err := awsauth.Sign(req, c.Service, c.Region, c.AccessKey, c.SecretKey, time.Now()); err != nil {
		tb.Fatal(err)
	}
	rec := httptest.NewRecorder()
	c.Handler.ServeHTTP(rec, req)
	return rec
}

// Shape is the XML a client error of an API has.
type Shape int

const (
	// EC2 errors are Response/Errors/Error with a Code and a Message.
	EC2 Shape = iota
	// Query errors (ELBv2, RDS) are ErrorResponse/Error of Type Sender
	// with a Code and a Message.
	Query
)

// CheckAnswer fails t when rec, the answer to what, is a 5xx, or a 4xx
// without the API's error body.
func CheckAnswer(t *testing.T, what string, rec *httptest.ResponseRecorder, shape Shape) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("%s: %d %s", what, rec.Code, rec.Body)
	}
	if rec.Code < 400 {
		return
	}
	ok := false
	switch shape {
	case EC2:
		var e struct {
			XMLName xml.Name                         `xml:"Response"`
			Errors  []struct{ Code, Message string } `xml:"Errors>Error"`
		}
		ok = xml.Unmarshal(rec.Body.Bytes(), &e) == nil && len(e.Errors) == 1 && e.Errors[0].Code != "" && e.Errors[0].Message != ""
	case Query:
		var e struct {
			XMLName xml.Name `xml:"ErrorResponse"`
			Error   struct{ Type, Code, Message string }
		}
		ok = xml.Unmarshal(rec.Body.Bytes(), &e) == nil && e.Error.Type == "Sender" && e.Error.Code != "" && e.Error.Message != ""
	}
	if !ok {
		t.Fatalf("%s: a %d without the API's error body: %s", what, rec.Code, rec.Body)
	}
}

// Healthy fails t unless action (with form) answers 200: the API still
// works after what.
func (c Client) Healthy(t *testing.T, what, action, form string) {
	t.Helper()
	if rec := c.Call(t, action, form); rec.Code != http.StatusOK {
		t.Fatalf("after %s %s answers %d %s", what, action, rec.Code, rec.Body)
	}
}
