package lab

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The Entra Cloud Sync job calls (DOMAIN.md): a provisioning agent's job is
// started with POST .../synchronization/jobs/{job}/start, restarted with
// /restart and {"criteria":{"resetScope":"Full"}}, and read with GET. The
// lab has one sync engine; a Cloud Sync job is another way to drive it, so
// start runs a Delta cycle, a restart whose reset scope includes Full runs an
// Initial one, and the job's status is made from the last cycle, whoever
// ran it. The lab answers for any service principal and job id.

// restartScopes are synchronizationJobRestartScope's members.
var restartScopes = map[string]bool{
	"none": true, "connectordatastore": true, "escrows": true, "watermark": true,
	"quarantinestate": true, "full": true, "forcedeletes": true,
}

func (s *Server) routeCloudSync() {
	const job = "/v1.0/servicePrincipals/{sp}/synchronization/jobs/{job}"
	s.graph.HandleFunc("GET "+job, s.allow(permReadSyncJob, s.getSyncJob))
	s.graph.HandleFunc("POST "+job+"/start", s.allow(permRunSyncJob, s.startSyncJob))
	s.graph.HandleFunc("POST "+job+"/restart", s.allow(permRunSyncJob, s.restartSyncJob))
}

func (s *Server) startSyncJob(w http.ResponseWriter, r *http.Request) {
	s.runSyncJob(w, Delta)
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
	policy := Delta
	if body.Criteria != nil && body.Criteria.ResetScope != nil {
		for _, f := range strings.Split(*body.Criteria.ResetScope, ",") {
			f = strings.ToLower(strings.TrimSpace(f))
			if !restartScopes[f] {
				writeError(w, http.StatusBadRequest, "BadRequest",
					fmt.Sprintf("resetScope %q is not a synchronizationJobRestartScope (None, ConnectorDataStore, Escrows, Watermark, QuarantineState, Full, ForceDeletes).", *body.Criteria.ResetScope))
				return
			}
			if f == "full" {
				policy = Initial
			}
		}
	}
	s.runSyncJob(w, policy)
}

// runSyncJob runs a cycle and answers 204, as Graph does: how the run went
// is read from the job. A cycle stopped by the deletion threshold puts the
// job in quarantine. With the tenant's directory synchronization off the
// lab answers 409 with its own message; what Graph answers then is not
// documented.
func (s *Server) runSyncJob(w http.ResponseWriter, policy SyncPolicy) {
	if _, err := s.t.SyncCycle(policy); !writeSyncError(w, err) {
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
		Code          string              `json:"code"`
		LastExecution *graphSyncExecution `json:"lastExecution"`
		Quarantine    *struct {
			CurrentBegan time.Time       `json:"currentBegan"`
			Error        *graphSyncError `json:"error"`
			Reason       string          `json:"reason"`
		} `json:"quarantine"`
	} `json:"status"`
}

func (s *Server) getSyncJob(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.syncJob(r.PathValue("job")))
}

// syncJob renders the job id as its last cycle left it.
func (s *Server) syncJob(id string) graphSyncJob {
	var j graphSyncJob
	j.ID, j.TemplateID = id, "AD2AADProvisioning"
	j.Schedule.Interval, j.Schedule.State = "PT2M", "Active"
	last, ok := s.t.LastSync()
	if !ok {
		j.Status.Code = "NotRun"
		return j
	}
	n := int64(last.Added + last.Updated + last.Deleted + last.Restored)
	ex := &graphSyncExecution{ActivityIdentifier: last.ID, CountExported: n, CountExports: n,
		State: "Succeeded", TimeBegan: last.Started, TimeEnded: last.Started}
	j.Status.Code, j.Status.LastExecution = "Active", ex
	switch last.Status {
	case StatusExportErrors:
		ex.State = "EntryLevelErrors"
	case StatusDeletionThresholdExceeded:
		e := &graphSyncError{Code: "TooManyDeletes", Message: "The cycle would delete more objects than the accidental-deletion threshold allows; nothing was exported.", TenantActionable: true}
		ex.State, ex.Error = "Failed", e
		j.Status.Code = "Quarantine"
		j.Status.Quarantine = &struct {
			CurrentBegan time.Time       `json:"currentBegan"`
			Error        *graphSyncError `json:"error"`
			Reason       string          `json:"reason"`
		}{CurrentBegan: last.Started, Error: e, Reason: "TooManyDeletes"}
	}
	return j
}
