package awsrds

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/awsauth"
)

// SecretsName is the Secrets Manager API's name: its key in
// localcloud.Config.APIAddrs.
const SecretsName = "secretsmanager"

// SecretsDefaultAddr is where `localcloud serve` would put the Secrets
// Manager API's own listener.
const SecretsDefaultAddr = "127.0.0.1:9084"

// SecretsAPI is the one Secrets Manager action RDS's managed passwords
// need, GetSecretValue (JSON 1.1 protocol: POST / with X-Amz-Target
// secretsmanager.GetSecretValue), over the secrets its RDS API keeps. It
// keeps no state of its own.
type SecretsAPI struct {
	rds *API
	s   *localcloud.Server
}

var (
	_ localcloud.API              = (*SecretsAPI)(nil)
	_ localcloud.Authenticator    = (*SecretsAPI)(nil)
	_ localcloud.ReadOnlyReporter = (*SecretsAPI)(nil)
)

// Name implements localcloud.API.
func (a *SecretsAPI) Name() string { return SecretsName }

// Prefix implements localcloud.API: under /secretsmanager/ on localcloud's
// main listener, at every path on its own.
func (a *SecretsAPI) Prefix() string { return "/secretsmanager/" }

// Mount implements localcloud.API.
func (a *SecretsAPI) Mount(s *localcloud.Server) {
	if a.s != nil {
		panic("awsrds: Secrets Manager API mounted twice")
	}
	a.s = s
}

// Authenticate implements localcloud.Authenticator: SigV4 for service
// secretsmanager, by the RDS API's credentials.
func (a *SecretsAPI) Authenticate(r *http.Request) bool {
	return authenticate(a.s, a.rds.cfg, r, "secretsmanager")
}

// operation is the X-Amz-Target's operation.
func operation(r *http.Request) string {
	op, _ := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "secretsmanager.")
	return op
}

// Route implements localcloud.API: "secretsmanager:<Operation>".
func (a *SecretsAPI) Route(r *http.Request) string { return "secretsmanager:" + operation(r) }

// ReadOnly implements localcloud.ReadOnlyReporter: it changes nothing.
func (a *SecretsAPI) ReadOnly(*http.Request) bool { return true }

// Refuse implements localcloud.API.
func (a *SecretsAPI) Refuse(w http.ResponseWriter, _ *http.Request, status int) {
	switch status {
	case http.StatusUnauthorized:
		jsonError(w, 400, "UnrecognizedClientException", "The security token included in the request is invalid.")
	case http.StatusTooManyRequests:
		jsonError(w, 400, "ThrottlingException", "Rate exceeded")
	case http.StatusInternalServerError:
		jsonError(w, status, "InternalServiceError", "An error occurred on the server side.")
	default:
		jsonError(w, status, strings.ReplaceAll(http.StatusText(status), " ", "")+"Exception", "Injected fault: "+http.StatusText(status))
	}
}

func jsonError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"__type": code, "message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// ServeHTTP implements localcloud.API.
func (a *SecretsAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Amzn-Requestid", w.Header().Get("X-Request-Id"))
	op := operation(r)
	if r.Method != http.MethodPost || op != "GetSecretValue" {
		jsonError(w, 400, "UnknownOperationException", fmt.Sprintf("localcloud's Secrets Manager serves GetSecretValue only, not %q", op))
		return
	}
	var req struct {
		SecretID     string `json:"SecretId"`
		VersionID    string `json:"VersionId"`
		VersionStage string `json:"VersionStage"`
	}
	body, err := io.ReadAll(r.Body)
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		jsonError(w, 400, "InvalidRequestException", "The request body is not JSON: "+err.Error())
		return
	}
	if req.SecretID == "" {
		jsonError(w, 400, "ValidationException", "1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null")
		return
	}
	if req.VersionStage != "" && req.VersionStage != "AWSCURRENT" {
		jsonError(w, 400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: "+req.VersionStage)
		return
	}
	region := regionOf(r)
	a.s.Lock()
	var db *instance
	for _, d := range a.rds.st.Instances {
		if d.Region == region && d.SecretARN != "" && (d.SecretARN == req.SecretID || secretName(d) == req.SecretID) {
			db = d
			break
		}
	}
	var out map[string]any
	if db != nil {
		out = map[string]any{
			"ARN": db.SecretARN, "Name": secretName(db), "VersionId": versionID(db), "SecretString": secretJSON(db),
			"VersionStages": []string{"AWSCURRENT"}, "CreatedDate": float64(db.SecretCreated.UnixMilli()) / 1000,
		}
	}
	a.s.Unlock()
	if db == nil || (req.VersionID != "" && req.VersionID != out["VersionId"]) {
		jsonError(w, 400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// versionID is the secret's one version's id, a UUID derived from its ARN
// and creation time.
func versionID(db *instance) string {
	h := hashID(db.SecretARN, db.SecretCreated.Format(time.RFC3339Nano)) + hashID(db.SecretARN)
	return h[1:9] + "-" + h[9:13] + "-4" + h[14:17] + "-a" + h[18:21] + "-" + h[21:33]
}

// HostProvisioned implements localcloud.API.
func (a *SecretsAPI) HostProvisioned(*localcloud.Host, error, time.Time) {}

// SaveState implements localcloud.API: the secrets are the RDS API's.
func (a *SecretsAPI) SaveState() any { return nil }

// LoadState implements localcloud.API.
func (a *SecretsAPI) LoadState(json.RawMessage) error { return nil }

// regionOf is the region r was signed for (Authenticate checked it).
func regionOf(r *http.Request) string { return awsauth.Region(r.Header.Get("Authorization")) }
