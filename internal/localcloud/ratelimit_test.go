package localcloud

import (
	"testing"
	"time"
)

func TestRateLimit(t *testing.T) {
	var l rateLimit
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 30 {
		if _, over := l.admit(30, t0.Add(time.Duration(i)*time.Second)); over {
			t.Fatalf("request %d refused within the limit", i)
		}
	}
	wait, over := l.admit(30, t0.Add(40*time.Second))
	if !over || wait != 20 {
		t.Errorf("the 31st request in a minute: refused %v, retry after %d s; want refused, 20 s", over, wait)
	}
	if _, over := l.admit(30, t0.Add(60*time.Second)); over {
		t.Error("a request once the first aged out was refused")
	}
	if _, over := l.admit(0, t0); over {
		t.Error("no limit refused a request")
	}
	if l.refused != 1 {
		t.Errorf("refused %d, want 1", l.refused)
	}
}
