package wait

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestUntil(t *testing.T) {
	boom := errors.New("boom")
	flaky := errors.New("connection reset")
	tests := []struct {
		name     string
		check    func(n int) (bool, string, error)
		timeout  time.Duration
		wantErr  error
		wantMsg  []string
		minCalls int
	}{
		{name: "done at once", check: func(int) (bool, string, error) { return true, "", nil }, minCalls: 1},
		{name: "done on the third check", check: func(n int) (bool, string, error) { return n >= 3, "step", nil }, minCalls: 3},
		{name: "a permanent error stops", check: func(int) (bool, string, error) { return false, "", boom }, wantErr: boom, minCalls: 1},
		{name: "a passing error is retried", check: func(n int) (bool, string, error) {
			if n < 3 {
				return false, "", Retry(flaky)
			}
			return true, "", nil
		}, minCalls: 3},
		{name: "timeout names the state and last error", check: func(int) (bool, string, error) { return false, "node down", Retry(flaky) },
			timeout: 30 * time.Millisecond, wantErr: context.DeadlineExceeded,
			wantMsg: []string{"waiting for the thing", "last state: node down", "last error: connection reset"}, minCalls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			err := Until(context.Background(), Options{What: "the thing", Interval: time.Millisecond, MaxInterval: 4 * time.Millisecond, Timeout: tt.timeout},
				func(context.Context) (bool, string, error) { n++; return tt.check(n) })
			if tt.wantErr == nil && err != nil {
				t.Fatalf("err = %v", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			for _, m := range tt.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q lacks %q", err, m)
				}
			}
			if tt.wantErr == context.DeadlineExceeded && !errors.Is(err, flaky) {
				t.Errorf("timeout error does not wrap the last error")
			}
			if n < tt.minCalls {
				t.Errorf("checks = %d, want >= %d", n, tt.minCalls)
			}
		})
	}
}

func TestUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Until(ctx, Options{}, func(context.Context) (bool, string, error) { return false, "", nil })
	var te *TimeoutError
	if !errors.As(err, &te) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}
