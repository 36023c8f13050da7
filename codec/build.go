package codec

// MesosVersion is the Apache Mesos release whose APIs Gomesos speaks: the
// "version" of /version and the state endpoints, of MasterInfo and of the
// agent's registration. Clients gate features on it.
const MesosVersion = "1.11.0"

// BuildInfo describes a binary as Mesos's /version and state endpoints
// do: the version, the build's date (UTC, "2006-01-02 15:04:05") and time
// (seconds since the epoch), who built it and from which commit.
type BuildInfo struct {
	Version string
	Date    string
	Time    float64
	User    string
	GitSHA  string
}

// VersionDocument is the /version document of a master or an agent.
func (b BuildInfo) VersionDocument() map[string]any {
	v := map[string]any{"version": b.Version, "build_date": b.Date, "build_time": Double(b.Time), "build_user": b.User}
	if b.GitSHA != "" {
		v["git_sha"] = b.GitSHA
	}
	return v
}
