package master

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/gomesos/gomesos/api/v1/maintenance"
	masterpb "github.com/gomesos/gomesos/api/v1/master"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
	"google.golang.org/protobuf/proto"
)

// The legacy maintenance endpoints (Mesos's /master/maintenance/schedule,
// /master/maintenance/status, /master/machine/down and /master/machine/up):
// JSON forms of the operator API's maintenance calls, served by the same
// core calls.

func (m *Master) handleMaintenanceSchedule(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		writeProtoJSON(w, r, m.readSnapshot().MaintenanceSchedule())
	case http.MethodPost:
		if !m.leadGate(w, r) {
			return
		}
		body, ok := readBody(w, r)
		if !ok {
			return
		}
		s := &maintenance.Schedule{}
		if err := codec.UnmarshalJSON(body, s); err != nil {
			textError(w, http.StatusBadRequest, "Failed to parse the maintenance schedule JSON: "+err.Error())
			return
		}
		m.operatorWrite(w, r, &masterpb.Call{Type: masterpb.Call_UPDATE_MAINTENANCE_SCHEDULE.Enum(),
			UpdateMaintenanceSchedule: &masterpb.Call_UpdateMaintenanceSchedule{Schedule: s}})
	default:
		requestError(w, codec.MethodNotAllowed(r.Method, "GET", "POST"))
	}
}

func (m *Master) handleMaintenanceStatus(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		requestError(w, codec.MethodNotAllowed(r.Method, "GET"))
		return
	}
	writeProtoJSON(w, r, m.readSnapshot().MaintenanceStatus())
}

// handleMachines serves /master/machine/down (start, set) and
// /master/machine/up: a POSTed JSON array of MachineIDs.
func (m *Master) handleMachines(start bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			requestError(w, codec.MethodNotAllowed(r.Method, "POST"))
			return
		}
		if !m.leadGate(w, r) {
			return
		}
		body, ok := readBody(w, r)
		if !ok {
			return
		}
		var raw []json.RawMessage
		if err := json.Unmarshal(body, &raw); err != nil {
			textError(w, http.StatusBadRequest, "Failed to parse the list of machines: expecting a JSON array of machine ids: "+err.Error())
			return
		}
		var ids []*mesos.MachineID
		for i, b := range raw {
			id := &mesos.MachineID{}
			if err := codec.UnmarshalJSON(b, id); err != nil {
				textError(w, http.StatusBadRequest, fmt.Sprintf("Failed to parse machine %d: %v", i, err))
				return
			}
			ids = append(ids, id)
		}
		call := &masterpb.Call{Type: masterpb.Call_STOP_MAINTENANCE.Enum(), StopMaintenance: &masterpb.Call_StopMaintenance{Machines: ids}}
		if start {
			call = &masterpb.Call{Type: masterpb.Call_START_MAINTENANCE.Enum(), StartMaintenance: &masterpb.Call_StartMaintenance{Machines: ids}}
		}
		m.operatorWrite(w, r, call)
	}
}

// readBody reads a request body, answering 400 when it cannot.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		textError(w, http.StatusBadRequest, "Failed to read the request body: "+err.Error())
		return nil, false
	}
	return body, true
}

// writeProtoJSON answers 200 with a message in Mesos's JSON.
func writeProtoJSON(w http.ResponseWriter, r *http.Request, msg proto.Message) {
	b, err := codec.MarshalJSON(msg)
	if err != nil {
		textError(w, http.StatusInternalServerError, "encoding the response: "+err.Error())
		return
	}
	writeJSON(w, r, json.RawMessage(b))
}
