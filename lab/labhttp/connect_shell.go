package labhttp

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/rebind-dev/rebind/lab"
)

// The lab's Connect server command surface: POST /lab/connect/powershell
// with a PowerShell command Base64-encoded as -EncodedCommand takes it
// (UTF-16LE), answered with what the command prints, as adsync's command
// driver reads it over ssh. It answers exactly the scripts that driver runs
// with Connect's ADSync cmdlets
// (https://learn.microsoft.com/entra/identity/hybrid/connect/reference-connect-adsync):
//
//   - Get-ADSyncScheduler's SyncCycleEnabled, StagingModeEnabled,
//     SchedulerSuspended and SyncCycleInProgress (the lab's server is never
//     in staging mode nor suspended; its cycles run to their end inside the
//     start, so none is ever in progress; SyncCycleEnabled is the lab
//     scheduler's, Tenant.Scheduler);
//   - (Get-ADSyncScheduler).SyncCycleEnabled and Set-ADSyncScheduler
//     -SyncCycleEnabled $true|$false, which hold and release the lab's
//     scheduler (Tenant.SetSchedulerEnabled; the scheduler page,
//     https://learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-sync-feature-scheduler);
//   - Start-ADSyncSyncCycle -PolicyType Delta|Initial, which runs the cycle;
//   - Get-ADSyncRunProfileResult: the lab reports each cycle as one run, the
//     Export of its Entra ID connector, numbered as the cycles are, whose
//     Result is the cycle's status (success, completed-export-errors,
//     stopped-deletion-threshold-exceeded).
//
// Any other command is refused (400), as is a cycle while directory
// synchronization is off (409, the lab's own answer).

var (
	connectStart        = regexp.MustCompile(`^Start-ADSyncSyncCycle -PolicyType (Delta|Initial)$`)
	connectSetScheduler = regexp.MustCompile(`^Set-ADSyncScheduler -SyncCycleEnabled \$(true|false)$`)
	connectRuns         = regexp.MustCompile(`^ConvertTo-Json -Compress -InputObject @\(Get-ADSyncRunProfileResult -NumberRequested 100 \| Where-Object \{ \$_\.RunNumber -gt (\d+) \} \| Select-Object RunNumber,ConnectorName,RunProfileName,Result,StartDate,EndDate\)$`)
)

const (
	connectScheduler  = "Get-ADSyncScheduler | Select-Object SyncCycleEnabled,StagingModeEnabled,SchedulerSuspended,SyncCycleInProgress | ConvertTo-Json -Compress"
	connectInProgress = "(Get-ADSyncScheduler).SyncCycleInProgress"
	connectCycleOn    = "(Get-ADSyncScheduler).SyncCycleEnabled"
	connectLastRun    = "ConvertTo-Json -Compress -InputObject @(Get-ADSyncRunProfileResult -NumberRequested 1 | Select-Object RunNumber)"
)

// connectRun is one Get-ADSyncRunProfileResult object.
type connectRun struct {
	RunNumber      int64
	ConnectorName  string
	RunProfileName string
	Result         string
	StartDate      string
	EndDate        string
}

// encodedCommand reads the command a shell request's body carries as
// -EncodedCommand; a body that is not one is answered 400 and false is
// returned.
func encodedCommand(w http.ResponseWriter, r *http.Request) (string, bool) {
	body, err := requestBody(r)
	if err == nil {
		var cmd string
		if cmd, err = decodeEncodedCommand(string(body)); err == nil {
			return cmd, true
		}
	}
	http.Error(w, err.Error(), http.StatusBadRequest)
	return "", false
}

// decodeEncodedCommand reads a -EncodedCommand argument.
func decodeEncodedCommand(s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b)%2 != 0 {
		return "", errors.New("the body is not a Base64 UTF-16LE command (-EncodedCommand)")
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u)), nil
}

func (s *Server) controlConnectShell(w http.ResponseWriter, r *http.Request) {
	cmd, ok := encodedCommand(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	printJSON := func(v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "%s\n", b)
	}
	switch {
	case cmd == connectScheduler:
		sched := s.t.Scheduler()
		printJSON(map[string]bool{"SyncCycleEnabled": sched.SyncCycleEnabled && sched.Interval.D() > 0, "StagingModeEnabled": false,
			"SchedulerSuspended": false, "SyncCycleInProgress": false})
	case cmd == connectInProgress:
		fmt.Fprintln(w, "False")
	case cmd == connectCycleOn:
		if s.t.Scheduler().SyncCycleEnabled {
			fmt.Fprintln(w, "True")
		} else {
			fmt.Fprintln(w, "False")
		}
	case connectSetScheduler.MatchString(cmd):
		s.t.SetSchedulerEnabled(connectSetScheduler.FindStringSubmatch(cmd)[1] == "true")
	case cmd == connectLastRun:
		runs := []map[string]int64{}
		if l, ok := lastRun(s.t); ok {
			runs = append(runs, map[string]int64{"RunNumber": l.RunNumber})
		}
		printJSON(runs)
	case connectStart.MatchString(cmd):
		policy, _ := lab.ParseSyncPolicy(connectStart.FindStringSubmatch(cmd)[1])
		_, err := s.t.SyncCycle(policy)
		switch {
		case errors.Is(err, lab.ErrSyncOff):
			http.Error(w, "Start-ADSyncSyncCycle: "+err.Error(), http.StatusConflict)
			return
		case err != nil && !errors.Is(err, lab.ErrDeletionThreshold):
			http.Error(w, "Start-ADSyncSyncCycle: "+err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "Result\n------\nSuccess")
	case connectRuns.MatchString(cmd):
		after, _ := strconv.ParseInt(connectRuns.FindStringSubmatch(cmd)[1], 10, 64)
		runs := []connectRun{}
		if l, ok := lastRun(s.t); ok && l.RunNumber > after {
			runs = append(runs, l)
		}
		printJSON(runs)
	default:
		http.Error(w, fmt.Sprintf("The lab's Connect server does not answer %q.", cmd), http.StatusBadRequest)
	}
}

// lastRun returns the lab's last cycle as a run, and whether one ran.
func lastRun(t *lab.Tenant) (connectRun, bool) {
	last, n, ok := t.LastRun()
	if !ok {
		return connectRun{}, false
	}
	when := last.Started.UTC().Format("2006-01-02T15:04:05Z")
	return connectRun{RunNumber: n, ConnectorName: t.Config().TenantDomain + " - AAD", RunProfileName: "Export",
		Result: last.Status, StartDate: when, EndDate: when}, true
}
