package labhttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rebind-dev/rebind/lab"
)

// The Entra Cloud Sync job calls, as the synchronization API reference
// documents them:
//
//   - POST .../jobs/{job}/start: "If the job is in a paused state, it
//     continues processing changes from the point where it was paused. If
//     the job is in quarantine, the quarantine status is cleared. ... Use
//     the start job only when the job is currently paused or in quarantine."
//     (https://learn.microsoft.com/graph/api/synchronization-synchronizationjob-start)
//   - POST .../jobs/{job}/restart with criteria.resetScope: Watermark "causes
//     the service to re-evaluate all the users again", QuarantineState
//     "temporarily lifts the quarantine", ForceDeletes "forces the system to
//     delete the pending deleted users when ... the deletion threshold is
//     exceeded", Full is all of them, and no criteria is like QuarantineState,
//     Watermark and Escrows
//     (https://learn.microsoft.com/graph/api/resources/synchronization-synchronizationjobrestartcriteria).
//   - the job runs on its own at its schedule's interval, "the interval
//     between synchronization iterations"
//     (https://learn.microsoft.com/graph/api/resources/synchronization-synchronizationschedule).
//
// The lab has one sync engine; a Cloud Sync job is another way to drive it.
// A scheduled iteration is a Delta cycle, a restart that resets the
// watermark an Initial one. A job that is Active runs its scheduled
// iteration when it is read once the interval has passed on the lab's
// clock; a paused or quarantined job does not run. A cycle stopped by the
// deletion threshold puts the job in quarantine for TooManyDeletes until a
// start or a restart with QuarantineState clears it. The lab answers for any
// service principal and job id.

// msgTooManyDeletes is the lab's own message for a job quarantined by the
// deletion threshold; no Microsoft page read shows the service's wording
// (the portal shows "Delete threshold exceeded",
// cloud-sync/how-to-accidental-deletes).
const msgTooManyDeletes = "The cycle's deletions reached the accidental-deletion threshold; nothing was exported."

// cloudJobInterval is the schedule the lab's jobs report and keep. No
// Microsoft page read for this states Cloud Sync's default interval; the
// lab's is its own.
const cloudJobInterval = 2 * time.Minute

// restartScopes are synchronizationJobRestartScope's members.
var restartScopes = map[string]bool{
	"none": true, "connectordatastore": true, "escrows": true, "watermark": true,
	"quarantinestate": true, "full": true, "forcedeletes": true,
}

// cloudJobState is what a job remembers beyond the sync engine's last
// cycle.
type cloudJobState struct {
	paused bool
	// quarantine is the reason the job is in quarantine; "" when it is not.
	quarantine string
	since      time.Time
}

// cloudJobs holds each server's jobs, by job id.
type cloudJobs struct {
	mu   sync.Mutex
	jobs map[string]*cloudJobState
}

// cloudJobsOf maps a Server to its jobs; kept here so the job model stays
// in this file.
var cloudJobsOf sync.Map // *Server -> *cloudJobs

func (s *Server) cloudJobs() *cloudJobs {
	v, _ := cloudJobsOf.LoadOrStore(s, &cloudJobs{jobs: map[string]*cloudJobState{}})
	return v.(*cloudJobs)
}

// job returns the job's state, creating it Active; the caller holds mu.
func (c *cloudJobs) job(id string) *cloudJobState {
	j := c.jobs[id]
	if j == nil {
		j = &cloudJobState{}
		c.jobs[id] = j
	}
	return j
}

func (s *Server) routeCloudSync() {
	const job = "/v1.0/servicePrincipals/{sp}/synchronization/jobs/{job}"
	s.graph.HandleFunc("GET "+job, s.allow(permReadSyncJob, s.getSyncJob))
	s.graph.HandleFunc("POST "+job+"/start", s.allow(permRunSyncJob, s.startSyncJob))
	s.graph.HandleFunc("POST "+job+"/restart", s.allow(permRunSyncJob, s.restartSyncJob))
	// The pause page's permission table is an include this branch could
	// not read (https://learn.microsoft.com/graph/api/synchronization-synchronizationjob-pause);
	// the lab asks for start's and restart's permissions, unverified.
	s.graph.HandleFunc("POST "+job+"/pause", s.allow(permRunSyncJob, s.pauseSyncJob))
}

// runJobCycle runs one iteration for job j (its lock held): a cycle stopped
// by the deletion threshold quarantines the job. force lets the pending
// deletions through (ForceDeletes).
func (s *Server) runJobCycle(j *cloudJobState, policy lab.SyncPolicy, force bool) error {
	var res lab.SyncResult
	var err error
	if force {
		res, err = s.t.CloudSyncCycleForcingDeletes(policy)
	} else {
		res, err = s.t.CloudSyncCycle(policy)
	}
	if errors.Is(err, lab.ErrDeletionThreshold) {
		j.quarantine, j.since = "TooManyDeletes", res.Started
		return nil
	}
	return err
}

// startSyncJob serves POST .../start: a paused job carries on, a
// quarantined one leaves quarantine, and either runs an iteration. Started
// while it runs on its schedule, the lab's job does nothing more; what the
// service does then is not documented beyond "don't".
func (s *Server) startSyncJob(w http.ResponseWriter, r *http.Request) {
	jobs := s.cloudJobs()
	jobs.mu.Lock()
	defer jobs.mu.Unlock()
	j := jobs.job(r.PathValue("job"))
	if !j.paused && j.quarantine == "" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	j.paused, j.quarantine = false, ""
	if !writeSyncError(w, s.runJobCycle(j, lab.Delta, false)) {
		w.WriteHeader(http.StatusNoContent)
	}
}

// pauseSyncJob serves POST .../pause: the job stops running on its
// schedule until it is started
// (https://learn.microsoft.com/graph/api/synchronization-synchronizationjob-pause).
func (s *Server) pauseSyncJob(w http.ResponseWriter, r *http.Request) {
	jobs := s.cloudJobs()
	jobs.mu.Lock()
	defer jobs.mu.Unlock()
	jobs.job(r.PathValue("job")).paused = true
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) restartSyncJob(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Criteria *struct {
			ResetScope *string `json:"resetScope"`
		} `json:"criteria"`
	}
	// The body is optional; readBodies has bounded it.
	b, err := requestBody(r)
	if err == nil && len(bytes.TrimSpace(b)) > 0 {
		err = json.Unmarshal(b, &body)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", "The body is not a restart request: "+err.Error())
		return
	}
	// No criteria (or an empty scope) is the portal's "Restart
	// provisioning": QuarantineState, Watermark and Escrows.
	scope := map[string]bool{"quarantinestate": true, "watermark": true, "escrows": true}
	if body.Criteria != nil && body.Criteria.ResetScope != nil && strings.TrimSpace(*body.Criteria.ResetScope) != "" {
		scope = map[string]bool{}
		for _, f := range strings.Split(*body.Criteria.ResetScope, ",") {
			f = strings.ToLower(strings.TrimSpace(f))
			if !restartScopes[f] {
				writeError(w, http.StatusBadRequest, "BadRequest",
					fmt.Sprintf("resetScope %q is not a synchronizationJobRestartScope (None, ConnectorDataStore, Escrows, Watermark, QuarantineState, Full, ForceDeletes).", *body.Criteria.ResetScope))
				return
			}
			scope[f] = true
		}
		if scope["full"] {
			for f := range restartScopes {
				scope[f] = true
			}
		}
	}
	jobs := s.cloudJobs()
	jobs.mu.Lock()
	defer jobs.mu.Unlock()
	j := jobs.job(r.PathValue("job"))
	if scope["quarantinestate"] || scope["none"] {
		j.quarantine = ""
	}
	if scope["none"] {
		j.paused = false
	}
	if j.quarantine != "" {
		// Still in quarantine: nothing runs.
		w.WriteHeader(http.StatusNoContent)
		return
	}
	j.paused = false
	policy := lab.Delta
	if scope["watermark"] {
		policy = lab.Initial
	}
	if !writeSyncError(w, s.runJobCycle(j, policy, scope["forcedeletes"])) {
		w.WriteHeader(http.StatusNoContent)
	}
}

// graphSyncError is synchronizationError.
type graphSyncError struct {
	Code             string `json:"code"`
	Message          string `json:"message"`
	TenantActionable bool   `json:"tenantActionable"`
}

// graphSyncExecution is synchronizationTaskExecution.
type graphSyncExecution struct {
	ActivityIdentifier string          `json:"activityIdentifier"`
	CountExported      int64           `json:"countExported"`
	CountExports       int64           `json:"countExports"`
	Error              *graphSyncError `json:"error"`
	State              string          `json:"state"`
	TimeBegan          time.Time       `json:"timeBegan"`
	TimeEnded          time.Time       `json:"timeEnded"`
}

// graphSyncQuarantine is synchronizationQuarantine.
type graphSyncQuarantine struct {
	CurrentBegan time.Time       `json:"currentBegan"`
	Error        *graphSyncError `json:"error"`
	Reason       string          `json:"reason"`
}

// graphSyncJob is synchronizationJob with the parts of its status the lab
// knows.
type graphSyncJob struct {
	ID         string `json:"id"`
	TemplateID string `json:"templateId"`
	Schedule   struct {
		Interval string `json:"interval"`
		State    string `json:"state"`
	} `json:"schedule"`
	Status struct {
		Code          string               `json:"code"`
		LastExecution *graphSyncExecution  `json:"lastExecution"`
		Quarantine    *graphSyncQuarantine `json:"quarantine"`
	} `json:"status"`
}

// getSyncJob serves GET .../jobs/{job}. An Active job whose interval has
// passed on the lab's clock since the last cycle runs its scheduled Delta
// iteration first.
func (s *Server) getSyncJob(w http.ResponseWriter, r *http.Request) {
	jobs := s.cloudJobs()
	jobs.mu.Lock()
	defer jobs.mu.Unlock()
	j := jobs.job(r.PathValue("job"))
	if !j.paused && j.quarantine == "" && s.t.Organization().OnPremisesSyncEnabled != nil && *s.t.Organization().OnPremisesSyncEnabled {
		last, ok := s.t.LastSync()
		if !ok || !s.t.Now().Before(last.Started.Add(cloudJobInterval)) {
			// A scheduled iteration that fails otherwise is reported by the
			// last execution, as the service reports it.
			_ = s.runJobCycle(j, lab.Delta, false)
		}
	}
	writeJSON(w, http.StatusOK, s.syncJob(r.PathValue("job"), j))
}

// syncJob renders the job as its state and the last cycle leave it.
func (s *Server) syncJob(id string, st *cloudJobState) graphSyncJob {
	var j graphSyncJob
	j.ID, j.TemplateID = id, "AD2AADProvisioning"
	j.Schedule.Interval, j.Schedule.State = "PT2M", "Active"
	switch {
	case st.quarantine != "":
		j.Status.Code = "Quarantine"
		e := &graphSyncError{Code: st.quarantine, Message: msgTooManyDeletes, TenantActionable: true}
		j.Status.Quarantine = &graphSyncQuarantine{CurrentBegan: st.since, Error: e, Reason: st.quarantine}
	case st.paused:
		j.Status.Code, j.Schedule.State = "Paused", "Disabled"
	default:
		j.Status.Code = "Active"
	}
	last, ok := s.t.LastSync()
	if !ok {
		if j.Status.Code == "Active" {
			j.Status.Code = "NotRun"
		}
		return j
	}
	n := int64(last.Added + last.Updated + last.Deleted + last.Restored)
	ex := &graphSyncExecution{ActivityIdentifier: last.ID, CountExported: n, CountExports: n,
		State: "Succeeded", TimeBegan: last.Started, TimeEnded: last.Started}
	j.Status.LastExecution = ex
	switch last.Status {
	case lab.StatusExportErrors:
		ex.State = "EntryLevelErrors"
	case lab.StatusDeletionThresholdExceeded:
		ex.State, ex.Error = "Failed", &graphSyncError{Code: "TooManyDeletes",
			Message: msgTooManyDeletes, TenantActionable: true}
	}
	return j
}
