// Package proc holds what localcloud's process supervisors (the netns
// hosts' dockerd, the registry) share.
package proc

import (
	"os"
	"strings"
)

// LogTail is the last n lines of the log file at path, for an error saying
// why a process stopped; "(no log: ...)" when it cannot be read.
func LogTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
