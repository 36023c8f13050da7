package containerizer

import "path/filepath"

// hostPlacement implements hostPlacer: a task the executor host starts for
// the container is born in its cgroups: with v2 by CLONE_INTO_CGROUP into
// its directory, with v1 by the forking thread joining each hierarchy's
// "tasks" file first.
func (g *Cgroups) hostPlacement(id string) (tasks []string, dir string) {
	paths := g.Paths(id)
	if g.host.Version == 2 {
		if len(paths) > 0 {
			dir = paths[0]
		}
		return nil, dir
	}
	for _, p := range paths {
		tasks = append(tasks, filepath.Join(p, "tasks"))
	}
	return tasks, ""
}
