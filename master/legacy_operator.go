package master

import (
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	masterpb "github.com/gomesos/gomesos/api/v1/master"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/api/v1/quota"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/codec/legacy"
	"github.com/gomesos/gomesos/master/core"
	"github.com/gomesos/gomesos/resources"
	"google.golang.org/protobuf/proto"
)

// The legacy operator endpoints that Mesos tools and dashboards still use:
// /master/roles, /master/weights, /master/quota and /master/teardown. The writers go
// through the same core calls as the operator API's.

// legacyRole is a role as /master/roles shows it.
type legacyRole struct {
	Name       string                 `json:"name"`
	Weight     codec.Double           `json:"weight"`
	Frameworks []string               `json:"frameworks"`
	Resources  resources.LegacyObject `json:"resources"`
	Allocated  resources.LegacyObject `json:"allocated"`
	Offered    resources.LegacyObject `json:"offered"`
	Reserved   resources.LegacyObject `json:"reserved"`
	Quota      legacyQuota            `json:"quota"`
}

type legacyQuota struct {
	Role      string                 `json:"role"`
	Guarantee resources.LegacyObject `json:"guarantee"`
	Limit     resources.LegacyObject `json:"limit"`
	Consumed  resources.LegacyObject `json:"consumed"`
}

func (m *Master) handleRoles(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		requestError(w, codec.MethodNotAllowed(r.Method, "GET"))
		return
	}
	roles := []legacyRole{}
	snap := m.readSnapshot()
	views := snap.Roles()
	quotas := snap.RoleQuotas(views)
	for _, v := range views {
		allocated := legacy.ScalarsOnly(legacy.Resources(v.Allocated))
		q := quotas[v.Name]
		roles = append(roles, legacyRole{
			Name: v.Name, Weight: codec.Double(v.Weight), Frameworks: append([]string{}, v.Frameworks...),
			Resources: allocated, Allocated: allocated,
			Offered:  legacy.ScalarsOnly(legacy.Resources(v.Offered)),
			Reserved: resources.LegacyObject{},
			Quota: legacyQuota{Role: v.Name, Guarantee: quantitiesObject(q.Guarantees), Limit: quantitiesObject(q.Limits),
				Consumed: quantitiesObject(q.Consumed)},
		})
	}
	writeJSON(w, r, map[string]any{"roles": roles})
}

// quantitiesObject renders scalar quantities as a legacy JSON object, by
// name (Mesos's /roles prints a role's quota guarantee, limit and
// consumed so, without the zero entries its resources objects carry).
func quantitiesObject(q map[string]resources.Scalar) resources.LegacyObject {
	out := resources.LegacyObject{}
	for _, name := range slices.Sorted(maps.Keys(q)) {
		out = append(out, resources.LegacyField{Key: name, Number: q[name].Float64()})
	}
	return out
}

// handleQuota serves the legacy /quota endpoint (deprecated in Mesos in
// favour of UPDATE_QUOTA and GET_QUOTA): GET answers the QuotaStatus as
// JSON, POST sets a role's quota from a QuotaRequest (SET_QUOTA), DELETE
// /quota/ROLE removes it (REMOVE_QUOTA).
func (m *Master) handleQuota(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/master")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if path != "/quota" {
			http.NotFound(w, r)
			return
		}
		b, err := codec.Marshal(codec.JSON, m.readSnapshot().QuotaStatus())
		if err != nil {
			textError(w, http.StatusInternalServerError, "encoding the quota status: "+err.Error())
			return
		}
		writeJSON(w, r, json.RawMessage(b))
	case http.MethodPost:
		if path != "/quota" {
			http.NotFound(w, r)
			return
		}
		if !m.leadGate(w, r) {
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
		if err != nil {
			textError(w, http.StatusBadRequest, "Failed to read the request body: "+err.Error())
			return
		}
		req := &quota.QuotaRequest{}
		if err := codec.UnmarshalJSON(body, req); err != nil {
			textError(w, http.StatusBadRequest, "Failed to validate set quota request JSON '"+string(body)+"': "+err.Error())
			return
		}
		m.operatorWrite(w, r, &masterpb.Call{Type: masterpb.Call_SET_QUOTA.Enum(), SetQuota: &masterpb.Call_SetQuota{QuotaRequest: req}})
	case http.MethodDelete:
		role, ok := strings.CutPrefix(path, "/quota/")
		if !ok || role == "" {
			textError(w, http.StatusBadRequest, "Failed to parse remove quota request for path '"+r.URL.Path+"': expected 3 tokens, found 2 tokens")
			return
		}
		if !m.leadGate(w, r) {
			return
		}
		m.operatorWrite(w, r, &masterpb.Call{Type: masterpb.Call_REMOVE_QUOTA.Enum(), RemoveQuota: &masterpb.Call_RemoveQuota{Role: proto.String(role)}})
	default:
		requestError(w, codec.MethodNotAllowed(r.Method, "GET", "POST", "DELETE"))
	}
}

// legacyWeight is a WeightInfo as /master/weights reads and writes it.
type legacyWeight struct {
	Role   string       `json:"role"`
	Weight codec.Double `json:"weight"`
}

func (m *Master) handleWeights(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		out := []legacyWeight{}
		for _, wi := range m.readSnapshot().OperatorWeights().GetWeightInfos() {
			out = append(out, legacyWeight{Role: wi.GetRole(), Weight: codec.Double(wi.GetWeight())})
		}
		writeJSON(w, r, out)
	case http.MethodPut:
		if !m.leadGate(w, r) {
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
		if err != nil {
			textError(w, http.StatusBadRequest, "Failed to read the request body: "+err.Error())
			return
		}
		var infos []struct {
			Role   *string  `json:"role"`
			Weight *float64 `json:"weight"`
		}
		if err := json.Unmarshal(body, &infos); err != nil {
			textError(w, http.StatusBadRequest, "Failed to parse update weights request JSON: "+err.Error())
			return
		}
		call := &masterpb.Call{Type: masterpb.Call_UPDATE_WEIGHTS.Enum(), UpdateWeights: &masterpb.Call_UpdateWeights{}}
		for i, wi := range infos {
			if wi.Role == nil || wi.Weight == nil {
				textError(w, http.StatusBadRequest, "Failed to parse update weights request JSON: weight "+strconv.Itoa(i)+" needs 'role' and 'weight'")
				return
			}
			call.UpdateWeights.WeightInfos = append(call.UpdateWeights.WeightInfos, &mesos.WeightInfo{Role: wi.Role, Weight: wi.Weight})
		}
		m.operatorWrite(w, r, call)
	default:
		requestError(w, codec.MethodNotAllowed(r.Method, "GET", "PUT"))
	}
}

func (m *Master) handleTeardown(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		requestError(w, codec.MethodNotAllowed(r.Method, "POST"))
		return
	}
	if !m.leadGate(w, r) {
		return
	}
	if err := r.ParseForm(); err != nil {
		textError(w, http.StatusBadRequest, "Unable to parse request body: "+err.Error())
		return
	}
	id := r.PostForm.Get("frameworkId")
	if id == "" {
		id = r.Form.Get("frameworkId")
	}
	if strings.TrimSpace(id) == "" {
		textError(w, http.StatusBadRequest, "Missing 'frameworkId' query parameter in the request body")
		return
	}
	m.operatorWrite(w, r, &masterpb.Call{Type: masterpb.Call_TEARDOWN.Enum(),
		Teardown: &masterpb.Call_Teardown{FrameworkId: &mesos.FrameworkID{Value: proto.String(id)}}})
}

// operatorWrite serves a call that changes state through the core, answering
// 200 or the core's refusal.
func (m *Master) operatorWrite(w http.ResponseWriter, r *http.Request, call *masterpb.Call) {
	var res core.Result
	err := m.doLeading(func() { res = m.step(core.OperatorCall{Call: call}) })
	switch {
	case errors.Is(err, errNotLeading):
		m.redirectToLeader(w, r, r.URL.RequestURI())
	case err != nil:
		textError(w, http.StatusServiceUnavailable, err.Error())
	case res.Code.Failed():
		textError(w, httpStatus(res.Code), res.Message)
	case res.Body != nil:
		// GET_OPERATIONS is read in the loop, where the operations are.
		enc, _, _ := codec.Negotiate(r.Header.Get("Accept"), "")
		writeMessage(w, r, enc, res.Body)
	case res.Code == core.Accepted:
		// The resource operations: applied, and on their way to the agent.
		w.WriteHeader(http.StatusAccepted)
	default:
		w.WriteHeader(http.StatusOK)
	}
}
