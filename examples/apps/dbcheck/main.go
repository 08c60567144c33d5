// Command dbcheck is a small service that proves a stack reaches its
// database with credentials it got as a swarm secret: each request writes
// a row naming the task that answered, and reads the rows back.
//
//	GET /api      {"hostname": ..., "node": ..., "rows": N, "mine": M} after an INSERT:
//	              N rows in all, M of them this task's
//	GET /healthz  "ok" once the database answered at least once
//
// Settings come from the environment:
//
//	DB_URL_FILE  the file holding the connection string (default
//	             /run/secrets/db_url: a swarm secret; see haddock_stack's
//	             files_wo and haddock_database_credentials)
//	PORT         the TCP port (default 8080)
//	NODE_NAME    shown as is (NODE_NAME: "{{.Node.Hostname}}")
//
// The connection string is never logged.
package main

import (
	"context"
	"encoding/json"
	"log"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

func main() {
	file := os.Getenv("DB_URL_FILE")
	if file == "" {
		file = "/run/secrets/db_url"
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		log.Fatalf("dbcheck: reading the connection string: %v", err)
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, strings.TrimSpace(string(raw)))
	if err != nil {
		log.Fatalf("dbcheck: the connection string does not parse") // never print it
	}
	defer pool.Close()
	host, _ := os.Hostname()
	var ready atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			if err := pool.Ping(r.Context()); err != nil {
				http.Error(w, "database: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
			ready.Store(true)
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /api", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		var rows, mine int64
		err := func() error {
			if _, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS visits (host text NOT NULL, at timestamptz NOT NULL DEFAULT now())`); err != nil {
				return err
			}
			if _, err := pool.Exec(ctx, `INSERT INTO visits (host) VALUES ($1)`, host); err != nil {
				return err
			}
			return pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE host = $1) FROM visits`, host).Scan(&rows, &mine)
		}()
		if err != nil {
			http.Error(w, "database: "+err.Error(), http.StatusBadGateway)
			return
		}
		ready.Store(true)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"hostname": host, "node": os.Getenv("NODE_NAME"), "rows": rows, "mine": mine})
	})
	srv := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Printf("dbcheck: listening on :%s", port)
	log.Fatal(srv.ListenAndServe())
}
