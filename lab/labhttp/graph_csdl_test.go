package labhttp

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rebind-dev/rebind/lab"
)

// csdlPath is Microsoft's published Graph v1.0 schema, beside the project.
const csdlPath = "../../../shared/graph/v1.0-Prod.csdl"

type csdlProperty struct {
	Name     string `xml:"Name,attr"`
	Type     string `xml:"Type,attr"`
	Nullable string `xml:"Nullable,attr"`
}

type csdlType struct {
	Name       string         `xml:"Name,attr"`
	BaseType   string         `xml:"BaseType,attr"`
	Properties []csdlProperty `xml:"Property"`
	// Members are an enum type's names (enum is set for EnumType); a flags
	// enum's value may join several with commas.
	Members []struct {
		Name string `xml:"Name,attr"`
	} `xml:"Member"`
	IsFlags bool `xml:"IsFlags,attr"`
	enum    bool
}

// csdl holds the structured types of the microsoft.graph namespace.
type csdl map[string]csdlType

func loadCSDL(t *testing.T) csdl {
	t.Helper()
	f, err := os.Open(csdlPath)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Graph schema missing in CI (../shared/graph beside the clone): %v", err)
		}
		t.Skipf("Graph schema not available: %v", err)
	}
	defer f.Close()
	var doc struct {
		Schemas []struct {
			Namespace    string     `xml:"Namespace,attr"`
			EntityTypes  []csdlType `xml:"EntityType"`
			ComplexTypes []csdlType `xml:"ComplexType"`
			EnumTypes    []csdlType `xml:"EnumType"`
		} `xml:"DataServices>Schema"`
	}
	if err := xml.NewDecoder(f).Decode(&doc); err != nil {
		t.Fatalf("parse %s: %v", csdlPath, err)
	}
	out := csdl{}
	for _, s := range doc.Schemas {
		if s.Namespace != "microsoft.graph" {
			continue
		}
		for _, ty := range append(s.EntityTypes, s.ComplexTypes...) {
			out["graph."+ty.Name] = ty
		}
		for _, ty := range s.EnumTypes {
			ty.enum = true
			out["graph."+ty.Name] = ty
		}
	}
	return out
}

// property finds a property of type name or of one of its base types.
func (c csdl) property(name, prop string) (csdlProperty, bool) {
	for ty, ok := c[name]; ok; ty, ok = c[ty.BaseType] {
		for _, p := range ty.Properties {
			if p.Name == prop {
				return p, true
			}
		}
	}
	return csdlProperty{}, false
}

// derives reports whether type sub is base or derives from it.
func (c csdl) derives(sub, base string) bool {
	for ty, ok := c[sub], true; ok; ty, ok = c[ty.BaseType] {
		if "graph."+ty.Name == base {
			return true
		}
	}
	return false
}

var guidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// check reports how JSON value v does not fit the CSDL type typ.
func (c csdl) check(path, typ, nullable string, v any) []string {
	if v == nil {
		if nullable == "false" {
			return []string{path + ": null, but the schema says Nullable=false"}
		}
		return nil
	}
	if inner, ok := strings.CutPrefix(typ, "Collection("); ok {
		arr, ok := v.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %T, want an array for %s", path, v, typ)}
		}
		var errs []string
		for i, e := range arr {
			errs = append(errs, c.check(fmt.Sprintf("%s[%d]", path, i), strings.TrimSuffix(inner, ")"), "", e)...)
		}
		return errs
	}
	bad := func() []string { return []string{fmt.Sprintf("%s: %v (%T) does not fit %s", path, v, v, typ)} }
	switch typ {
	case "Edm.String":
		if _, ok := v.(string); !ok {
			return bad()
		}
	case "Edm.Guid":
		if s, ok := v.(string); !ok || !guidPattern.MatchString(s) {
			return bad()
		}
	case "Edm.Boolean":
		if _, ok := v.(bool); !ok {
			return bad()
		}
	case "Edm.Int32", "Edm.Int64":
		if _, ok := v.(float64); !ok {
			return bad()
		}
	case "Edm.DateTimeOffset":
		s, ok := v.(string)
		if _, err := time.Parse(time.RFC3339, s); !ok || err != nil {
			return bad()
		}
	case "Edm.Duration":
		if s, ok := v.(string); !ok || !isoDuration.MatchString(s) {
			return bad()
		}
	default:
		if ty, ok := c[typ]; ok && ty.enum {
			return c.checkEnum(path, ty, v)
		}
		return c.checkObject(path, typ, v)
	}
	return nil
}

// isoDuration matches an Edm.Duration (ISO 8601, such as PT40M or P1DT2H).
var isoDuration = regexp.MustCompile(`^-?P(\d+D)?(T(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$`)

// checkEnum checks an enum value: a member's name, or for a flags enum
// names joined by commas.
func (c csdl) checkEnum(path string, ty csdlType, v any) []string {
	s, ok := v.(string)
	if !ok {
		return []string{fmt.Sprintf("%s: %v (%T) is not a graph.%s name", path, v, v, ty.Name)}
	}
	parts := []string{s}
	if ty.IsFlags {
		parts = strings.Split(s, ",")
	}
	for _, part := range parts {
		found := false
		for _, m := range ty.Members {
			if strings.TrimSpace(part) == m.Name {
				found = true
			}
		}
		if !found {
			return []string{fmt.Sprintf("%s: %q is not a member of graph.%s", path, part, ty.Name)}
		}
	}
	return nil
}

// checkObject checks a structured value against its type, honouring a
// derived type named by "@odata.type".
func (c csdl) checkObject(path, typ string, v any) []string {
	obj, ok := v.(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("%s: %T, want an object of %s", path, v, typ)}
	}
	if _, ok := c[typ]; !ok {
		return []string{fmt.Sprintf("%s: type %s is not in the schema", path, typ)}
	}
	if ot, ok := obj["@odata.type"].(string); ok {
		sub := strings.Replace(strings.TrimPrefix(ot, "#"), "microsoft.graph.", "graph.", 1)
		if !c.derives(sub, typ) {
			return []string{fmt.Sprintf("%s: @odata.type %s does not derive from %s", path, ot, typ)}
		}
		typ = sub
	}
	var errs []string
	for k, val := range obj {
		if strings.HasPrefix(k, "@odata.") {
			continue
		}
		p, ok := c.property(typ, k)
		if !ok {
			errs = append(errs, fmt.Sprintf("%s.%s: no such property on %s", path, k, typ))
			continue
		}
		errs = append(errs, c.check(path+"."+k, p.Type, p.Nullable, val)...)
	}
	return errs
}

// sampleUser has every field the lab serves set.
func sampleUser() *lab.CloudUser {
	now, synced := lab.Epoch, true
	return &lab.CloudUser{ID: "6b1ac5a4-4a6e-4b2f-9d76-1f0d4c7a2b10", DisplayName: "Nicki", UserPrincipalName: "nicki@contoso.com",
		Mail: "nicki@contoso.com", MailNickname: "nicki", ProxyAddresses: []string{"SMTP:nicki@contoso.com"}, AccountEnabled: true,
		OnPremisesImmutableID: "Hrz/HqNKnU+lCNTYHx9Ycw==", OnPremisesSyncEnabled: &synced, OnPremisesLastSyncDateTime: &now,
		OnPremisesDistinguishedName: "CN=nicki,OU=Users,DC=corp,DC=example,DC=com", OnPremisesSamAccountName: "nicki",
		OnPremisesUserPrincipalName: "nicki@contoso.com", AssignedLicenses: []string{lab.LicenseE3}, LastPasswordChangeDateTime: &now,
		OnPremisesProvisioningErrors: []lab.ProvisioningError{{Category: "PropertyConflict", OccurredDateTime: now, PropertyCausingError: "UserPrincipalName", Value: "x"}},
		ServiceProvisioningErrors:    []lab.ServiceProvisioningError{{CreatedDateTime: now, ServiceInstance: "exchange/x", ErrorDetail: "<ErrorRecord/>"}},
		CreatedDateTime:              now, DeletedDateTime: &now}
}

// TestGraphShapesMatchCSDL checks every property the lab serves for user,
// directoryObject (deleted items) and organization against Microsoft's
// schema, with the JSON type of the value the lab writes.
func TestGraphShapesMatchCSDL(t *testing.T) {
	c := loadCSDL(t)
	for _, name := range []string{"graph.user", "graph.directoryObject", "graph.organization", "graph.onPremisesProvisioningError",
		"graph.serviceProvisioningXmlError", "graph.assignedLicense"} {
		if _, ok := c[name]; !ok {
			t.Fatalf("schema has no %s", name)
		}
	}
	var buf bytes.Buffer
	var all []string
	for k := range userProperties {
		all = append(all, k)
	}
	writeUser(&buf, sampleUser(), all, true, "http://lab/v1.0/$metadata#directoryObjects/$entity")
	var user any
	if err := json.Unmarshal(buf.Bytes(), &user); err != nil {
		t.Fatal(err)
	}
	if got := len(user.(map[string]any)); got < len(userProperties) {
		t.Fatalf("sample user rendered %d properties, want all %d", got, len(userProperties))
	}
	for _, e := range c.checkObject("directoryObject", "graph.directoryObject", user) {
		t.Error(e)
	}
	tn := lab.New(lab.Config{})
	_ = tn.SetDirSyncEnabled(false)
	ob, _ := json.Marshal(orgOf(tn))
	var org any
	_ = json.Unmarshal(ob, &org)
	for _, e := range c.checkObject("organization", "graph.organization", org) {
		t.Error(e)
	}
	// A Cloud Sync job: never run, run with export errors, quarantined.
	for _, name := range []string{"restore-mistake", "healthy"} {
		tn, err := lab.LoadScenario(lab.ScenarioFiles, name)
		if err != nil {
			t.Fatal(err)
		}
		jobs := []graphSyncJob{NewServer(tn, ServerOptions{}).syncJob("AD2AADProvisioning.a.b", &cloudJobState{})}
		_, _ = tn.SyncCycle(lab.Delta)
		jobs = append(jobs, NewServer(tn, ServerOptions{}).syncJob("AD2AADProvisioning.a.b", &cloudJobState{paused: true}))
		for i, j := range jobs {
			jb, _ := json.Marshal(j)
			var job any
			_ = json.Unmarshal(jb, &job)
			for _, e := range c.checkObject(fmt.Sprintf("%s job %d", name, i), "graph.synchronizationJob", job) {
				t.Error(e)
			}
		}
	}
	q, err := lab.FromState(lab.State{Sync: lab.SyncMemory{Runs: 1,
		Last: &lab.SyncResult{ID: "x", Policy: lab.Delta, Started: time.Now(), Status: lab.StatusDeletionThresholdExceeded}}})
	if err != nil {
		t.Fatal(err)
	}
	jb, _ := json.Marshal(NewServer(q, ServerOptions{}).syncJob("j", &cloudJobState{quarantine: "TooManyDeletes", since: time.Now()}))
	var job any
	_ = json.Unmarshal(jb, &job)
	if !strings.Contains(string(jb), `"Quarantine"`) {
		t.Fatalf("quarantined job = %s", jb)
	}
	for _, e := range c.checkObject("quarantined job", "graph.synchronizationJob", job) {
		t.Error(e)
	}
}

// TestCSDLCheckCatchesWrongShapes makes sure the schema check above can
// fail: a wrong JSON type, an unknown property and a bad derived type.
func TestCSDLCheckCatchesWrongShapes(t *testing.T) {
	c := loadCSDL(t)
	bad := map[string]any{
		"onPremisesSyncEnabled":        "true",
		"onPremisesImmutableID":        "x",
		"proxyAddresses":               nil,
		"serviceProvisioningErrors":    []any{map[string]any{"@odata.type": "#microsoft.graph.user"}},
		"onPremisesProvisioningErrors": []any{map[string]any{"occurredDateTime": "yesterday"}},
	}
	if errs := c.checkObject("user", "graph.user", bad); len(errs) != 5 {
		t.Fatalf("found %d problems, want 5: %q", len(errs), errs)
	}
	badJob := map[string]any{
		"schedule": map[string]any{"interval": "2 minutes", "state": "Active"},
		"status":   map[string]any{"code": "Running", "lastExecution": map[string]any{"state": "Succeeded, Failed"}},
	}
	if errs := c.checkObject("job", "graph.synchronizationJob", badJob); len(errs) != 3 {
		t.Fatalf("found %d problems in the job, want 3 (interval, code, a state that is not a flags enum): %q", len(errs), errs)
	}
}

func TestWriteStringIsJSON(t *testing.T) {
	for _, s := range []string{"plain", `quote " and \ backslash`, "tab\tnew\nline\x01", "ünïcødé", "bad \xff utf8"} {
		var buf bytes.Buffer
		writeString(&buf, s)
		var back string
		if err := json.Unmarshal(buf.Bytes(), &back); err != nil || (back != s && utf8.ValidString(s)) {
			t.Errorf("writeString(%q) = %s -> %q, %v", s, buf.Bytes(), back, err)
		}
	}
}
