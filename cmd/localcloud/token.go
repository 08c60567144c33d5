package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
)

// tokenFileName is where serve keeps the token it generates for real
// hosts, in the state directory.
const tokenFileName = "token"

// resolveToken sets *token from, in order: -token, -token-file, then
// $LOCALCLOUD_TOKEN; without any, with real hosts, the token kept in
// <stateDir>/token (generated at random, mode 0600, the first time); else
// the public DevToken. Real hosts give whoever holds the token root on
// this machine (a host's dockerd runs as root), so they never get a token
// any local user knows by default. It returns how the banner shows the
// token (never echoed unless it is DevToken) and the file it generated or
// reused ("" otherwise).
func resolveToken(token *string, tokenFile string, realHosts bool, stateDir string) (hint, generated string, err error) {
	switch {
	case *token != "":
		return "<the -token value>", "", nil
	case tokenFile != "":
		t, err := readToken(tokenFile)
		if err != nil {
			return "", "", err
		}
		*token = t
		return fmt.Sprintf("$(cat %s)", tokenFile), "", nil
	case os.Getenv("LOCALCLOUD_TOKEN") != "":
		*token = os.Getenv("LOCALCLOUD_TOKEN")
		return `"$LOCALCLOUD_TOKEN"`, "", nil
	case !realHosts:
		*token = localcloud.DevToken
		return localcloud.DevToken, "", nil
	}
	path := filepath.Join(stateDir, tokenFileName)
	t, err := readToken(path)
	if errors.Is(err, fs.ErrNotExist) {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", "", err
		}
		t = hex.EncodeToString(b[:])
		if err := os.MkdirAll(stateDir, 0o700); err != nil {
			return "", "", err
		}
		if err := os.WriteFile(path, []byte(t+"\n"), 0o600); err != nil {
			return "", "", fmt.Errorf("writing the API token: %w", err)
		}
	} else if err != nil {
		return "", "", err
	}
	*token = t
	return fmt.Sprintf("$(cat %s)", path), path, nil
}

// readToken reads a token file, refusing one others can read.
func readToken(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("token file %s is readable by others (mode %s): chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	t := strings.TrimSpace(string(b))
	if t == "" || strings.ContainsAny(t, " \t\r\n") {
		return "", fmt.Errorf("token file %s holds no token (one line, no spaces)", path)
	}
	return t, nil
}
