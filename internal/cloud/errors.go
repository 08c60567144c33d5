package cloud

import (
	"errors"
	"fmt"
)

// Sentinel kinds; test with errors.Is.
var (
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrQuota        = errors.New("quota exceeded")
	ErrUnauthorized = errors.New("unauthorized")
	ErrInvalid      = errors.New("invalid request")
	ErrThrottled    = errors.New("throttled")
)

// APIError is an error the vendor answered with. Message is the vendor's own
// text, shown to users as is.
type APIError struct {
	Cloud      Name
	Kind       error // one of the sentinels above, or nil
	StatusCode int
	Code       string // vendor error id, e.g. "not_found", "InvalidAMIID.NotFound"
	Message    string
	RequestID  string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("%s API", e.Cloud)
	if e.StatusCode != 0 {
		s += fmt.Sprintf(" returned %d", e.StatusCode)
	}
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RequestID != "" {
		s += " (request " + e.RequestID + ")"
	}
	return s
}

// Is lets errors.Is(err, ErrNotFound) match an APIError of that kind.
func (e *APIError) Is(target error) bool { return e.Kind != nil && e.Kind == target }

// IsNotFound reports whether err says the thing is gone.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// NotFoundError builds a not-found error for a thing the driver looked for.
func NotFoundError(c Name, what, id string) error {
	return &APIError{Cloud: c, Kind: ErrNotFound, StatusCode: 404, Code: "not_found", Message: fmt.Sprintf("%s %q not found", what, id)}
}
