package entra

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/httpx"
)

// GraphError is a refusal from Graph: its HTTP status and OData error.
type GraphError struct {
	Status  int
	Code    string
	Message string
	// RetryAfter is the server's Retry-After, 0 when it sent none.
	RetryAfter time.Duration
}

func (e *GraphError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("Graph answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("Graph answered %d %s: %s", e.Status, e.Code, e.Message)
}

// graphErrorOf reads an error answer of the given status whose body
// Graph writes as its error resource, {"error": {"code": ..., "message":
// ...}} (https://learn.microsoft.com/graph/errors#error-resource-type);
// a body that is not one leaves Code and Message empty.
func graphErrorOf(status int, body []byte) *GraphError {
	ge := &GraphError{Status: status}
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil {
		ge.Code, ge.Message = e.Error.Code, e.Error.Message
	}
	return ge
}

// asGraphError extracts the status and OData error of an SDK error.
func asGraphError(err error) (*GraphError, bool) {
	var ge *GraphError
	if errors.As(err, &ge) {
		return ge, true
	}
	var ae abs.ApiErrorable
	if !errors.As(err, &ae) {
		return nil, false
	}
	ge = &GraphError{Status: ae.GetStatusCode()}
	var oe *odataerrors.ODataError
	if errors.As(err, &oe) {
		if m := oe.GetErrorEscaped(); m != nil {
			ge.Code, ge.Message = deref(m.GetCode()), deref(m.GetMessage())
		}
	}
	if h := ae.GetResponseHeaders(); h != nil {
		if v := h.Get("Retry-After"); len(v) > 0 {
			ge.RetryAfter = httpx.ParseRetryAfter(v[0])
		}
	}
	return ge, true
}

// isStatus reports whether err is a Graph refusal with this status.
func isStatus(err error, status int) bool {
	ge, ok := asGraphError(err)
	return ok && ge.Status == status
}

// wrap gives an SDK error rebind's shape: "entra: <what>: <cause>", with
// steps.ErrNotFound for 404, a RetryAfterError for throttling that outlasted
// the SDK's retries, and a PermanentError for refusals retrying cannot fix.
func wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	ge, ok := asGraphError(err)
	if !ok {
		return fmt.Errorf("entra: %s: %w", what, err)
	}
	if ge.Status == http.StatusNotFound {
		return fmt.Errorf("entra: %s: %w (%v)", what, steps.ErrNotFound, ge)
	}
	return httpx.Refusal(fmt.Errorf("entra: %s: %w", what, ge), ge.Status, ge.RetryAfter, 5*time.Second,
		"check the application's Graph permissions and admin consent")
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// serviceErrorText turns the errorDetail of a serviceProvisioningXmlError
// into readable text. Exchange writes an XML error record such as
// <ErrorRecord><ErrorCode>ExA77C31</ErrorCode><ErrorDescription>The value
// "..." of property "ExchangeGuid" is used by another recipient
// object.</ErrorDescription></ErrorRecord>, possibly inside
// <ServiceInstance><ObjectErrors> and in a namespace. The code is returned
// on its own; several descriptions are joined. Text that is not XML is
// returned trimmed.
func serviceErrorText(detail string) (code, text string) {
	dec := xml.NewDecoder(strings.NewReader(detail))
	dec.Strict = false
	var descs, codes []string
	var buf strings.Builder
	sawXML := false
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			sawXML = true
			buf.Reset()
		case xml.CharData:
			buf.Write(t)
		case xml.EndElement:
			v := strings.TrimSpace(buf.String())
			switch {
			case t.Name.Local == "ErrorDescription" && v != "":
				descs = append(descs, v)
			case t.Name.Local == "ErrorCode" && v != "":
				codes = append(codes, v)
			}
			buf.Reset()
		}
	}
	if !sawXML || len(descs) == 0 {
		return strings.Join(codes, ", "), strings.TrimSpace(stripTags(detail))
	}
	return strings.Join(codes, ", "), strings.Join(descs, " ")
}

// stripTags removes anything between < and > for a detail that is not a
// well-formed error record.
func stripTags(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
			b.WriteByte(' ')
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
