package localcloud

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"time"
)

// Random faults: a fraction of API requests (never /_localcloud/) meet a
// fault drawn at random, reproducibly from a seed, as a vendor's API
// misbehaves on a bad day (Config.FaultRate, Config.FaultSeed, or POST
// /_localcloud/faults/random at runtime). The kinds below are equally likely.
const (
	// FaultError500, FaultError502, FaultError503: the request is
	// refused with that status, nothing done.
	FaultError500 = "500"
	FaultError502 = "502"
	FaultError503 = "503"
	// FaultThrottle: 429 with Retry-After: 1, nothing done.
	FaultThrottle = "429"
	// FaultSlow: the answer comes SlowFaultDelay late (but comes).
	FaultSlow = "slow"
	// FaultDrop: the connection is closed without an answer, nothing
	// done.
	FaultDrop = "drop"
	// FaultDoneThen500: the request is carried out, then answered 500 —
	// "accepted but not done" as a client sees it: a create that made
	// the droplet. GET and HEAD get a plain 500 instead (nothing to do).
	FaultDoneThen500 = "done-then-500"
)

// SlowFaultDelay is how late a FaultSlow answer comes.
const SlowFaultDelay = 1500 * time.Millisecond

var randomFaultKinds = []string{FaultError500, FaultError502, FaultError503, FaultThrottle, FaultSlow, FaultDrop, FaultDoneThen500}

// randomFaults is the server's random fault state; s.mu guards it.
type randomFaults struct {
	rate float64
	seed uint64
	rnd  *rand.Rand
	// injected counts the faults served, by kind.
	injected map[string]int
}

func (rf *randomFaults) set(rate float64, seed uint64) error {
	if rate < 0 || rate > 1 {
		return fmt.Errorf("fault rate %v: want a fraction from 0 to 1", rate)
	}
	rf.rate, rf.seed = rate, seed
	rf.rnd = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	if rf.injected == nil {
		rf.injected = map[string]int{}
	}
	return nil
}

// draw says which fault, if any, the next request meets.
func (rf *randomFaults) draw() string {
	if rf.rate <= 0 || rf.rnd == nil || rf.rnd.Float64() >= rf.rate {
		return ""
	}
	k := randomFaultKinds[rf.rnd.IntN(len(randomFaultKinds))]
	rf.injected[k]++
	return k
}

// RandomFaults is what GET /_localcloud/faults/random answers.
type RandomFaults struct {
	Rate     float64        `json:"rate"`
	Seed     uint64         `json:"seed"`
	Injected map[string]int `json:"injected"`
	Total    int            `json:"total"`
}

// SetRandomFaults makes a fraction rate of API requests meet a random
// fault, drawn from seed; rate 0 stops them. The counts are kept.
func (s *Server) SetRandomFaults(rate float64, seed uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.random.set(rate, seed)
}

// RandomFaultStats reports the random fault settings and the faults served.
func (s *Server) RandomFaultStats() RandomFaults {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := RandomFaults{Rate: s.random.rate, Seed: s.random.seed, Injected: map[string]int{}}
	keys := make([]string, 0, len(s.random.injected))
	for k := range s.random.injected {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out.Injected[k] = s.random.injected[k]
		out.Total += s.random.injected[k]
	}
	return out
}

// serveRandomFault answers r with the fault kind k; it reports whether the
// API acted (FaultSlow and FaultDoneThen500 on a write).
func serveRandomFault(w http.ResponseWriter, r *http.Request, api API, k string) (acted bool) {
	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch k {
	case FaultSlow:
		select {
		case <-time.After(SlowFaultDelay):
		case <-r.Context().Done():
			return false
		}
		api.ServeHTTP(w, r)
		return true
	case FaultDrop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return false
			}
		}
		api.Refuse(w, r, http.StatusBadGateway)
		return false
	case FaultDoneThen500:
		if read {
			api.Refuse(w, r, http.StatusInternalServerError)
			return false
		}
		api.ServeHTTP(httptest.NewRecorder(), r)
		api.Refuse(w, r, http.StatusInternalServerError)
		return true
	case FaultThrottle:
		w.Header().Set("Retry-After", "1")
		api.Refuse(w, r, http.StatusTooManyRequests)
		return false
	}
	var status int
	_, _ = fmt.Sscan(k, &status)
	api.Refuse(w, r, status)
	return false
}

// randomFaultsHandlers are the admin endpoints of random faults.
func (s *Server) randomFaultsHandlers(m *http.ServeMux) {
	m.HandleFunc("GET /_localcloud/faults/random", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.RandomFaultStats())
	})
	m.HandleFunc("POST /_localcloud/faults/random", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Rate float64 `json:"rate"`
			Seed uint64  `json:"seed"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", "want {\"rate\": 0.1, \"seed\": 42}: "+err.Error())
			return
		}
		if err := s.SetRandomFaults(body.Rate, body.Seed); err != nil {
			writeError(w, http.StatusUnprocessableEntity, "unprocessable_entity", err.Error())
			return
		}
		writeJSON(w, http.StatusOK, s.RandomFaultStats())
	})
}
