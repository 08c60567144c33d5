// Package wait is Haddock's one poll loop: every wait for a host, an
// engine, a node, a service or a vendor resource goes through Until, so
// they all share the same context handling, backoff and timeout error,
// which names what was waited for and the last state observed.
package wait

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Options tune one wait. The zero value polls every second, with no
// backoff, until ctx ends.
type Options struct {
	// What names the wait in its error: "waiting for <What>".
	What string
	// Interval is the first pause between checks; default 1s.
	Interval time.Duration
	// MaxInterval caps the pause, which doubles after each check up to it;
	// default Interval (a fixed interval).
	MaxInterval time.Duration
	// Timeout bounds the wait; 0 leaves it to ctx.
	Timeout time.Duration
}

// Check looks once. It returns done when the wait is over; state says what
// it saw (kept for the timeout error). A non-nil error stops the wait at
// once, unless it is wrapped with Retry: then it is remembered and the
// wait goes on.
type Check func(ctx context.Context) (done bool, state string, err error)

// Retry marks an error a check saw as passing (an engine restarting, a
// connection reset): Until keeps waiting and reports it only if the wait
// runs out.
func Retry(err error) error {
	if err == nil {
		return nil
	}
	return &retryError{err}
}

type retryError struct{ err error }

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

// TimeoutError is returned when ctx ends (or Options.Timeout passes)
// before the check reports done. It wraps the context's error, so
// errors.Is(err, context.DeadlineExceeded) holds, and the last passing
// error a check reported.
type TimeoutError struct {
	What      string
	Err       error // ctx.Err()
	State     string
	LastError error
	Checks    int
	Elapsed   time.Duration
}

func (e *TimeoutError) Error() string {
	msg := "waiting"
	if e.What != "" {
		msg += " for " + e.What
	}
	msg += fmt.Sprintf(": %v after %s (%d checks)", e.Err, e.Elapsed.Round(time.Millisecond), e.Checks)
	if e.State != "" {
		msg += "; last state: " + e.State
	}
	if e.LastError != nil {
		msg += "; last error: " + e.LastError.Error()
	}
	return msg
}

// Unwrap returns the context's error and the last passing error.
func (e *TimeoutError) Unwrap() []error {
	if e.LastError != nil {
		return []error{e.Err, e.LastError}
	}
	return []error{e.Err}
}

// Until runs check at once, then after each pause, until it reports done
// (nil), returns an error not wrapped with Retry (that error, unwrapped of
// Retry), or the wait ends (a *TimeoutError).
func Until(ctx context.Context, o Options, check Check) error {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.MaxInterval < o.Interval {
		o.MaxInterval = o.Interval
	}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	start := time.Now()
	interval := o.Interval
	timer := time.NewTimer(0)
	defer timer.Stop()
	var state string
	var lastErr error
	checks := 0
	for {
		select {
		case <-ctx.Done():
			return &TimeoutError{What: o.What, Err: ctx.Err(), State: state, LastError: lastErr, Checks: checks, Elapsed: time.Since(start)}
		case <-timer.C:
		}
		checks++
		done, st, err := check(ctx)
		if st != "" {
			state = st
		}
		var re *retryError
		switch {
		case err != nil && errors.As(err, &re) && re == err:
			if ctx.Err() == nil || lastErr == nil {
				lastErr = re.err
			}
		case err != nil:
			return err
		case done:
			return nil
		default:
			lastErr = nil
		}
		timer.Reset(interval)
		interval = min(interval*2, o.MaxInterval)
	}
}

// Sleep pauses for d or until ctx ends (then ctx.Err()).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
