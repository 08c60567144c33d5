package localcloud

import (
	"math"
	"time"
)

// rateLimit is a sliding one-minute window of the API requests admitted
// (Config.RateLimit). Call with the server's lock held.
type rateLimit struct {
	admitted []time.Time // oldest first
	refused  int
}

// admit records a request at now when fewer than limit were admitted in
// the minute before; otherwise it refuses it and says how many seconds
// until one ages out (at least 1).
func (l *rateLimit) admit(limit int, now time.Time) (retryAfter int, refused bool) {
	if limit <= 0 {
		return 0, false
	}
	cut := 0
	for cut < len(l.admitted) && now.Sub(l.admitted[cut]) >= time.Minute {
		cut++
	}
	l.admitted = l.admitted[cut:]
	if len(l.admitted) < limit {
		l.admitted = append(l.admitted, now)
		return 0, false
	}
	l.refused++
	wait := time.Minute - now.Sub(l.admitted[0])
	return max(1, int(math.Ceil(wait.Seconds()))), true
}

// Throttled is how many API requests Config.RateLimit refused.
func (s *Server) Throttled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limit.refused
}
