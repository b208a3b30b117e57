package daemon

import (
	"path/filepath"

	"github.com/projector-dev/projector/capture"
)

// spillDir is where the transactions of src too large to hold in memory
// wait for their commit: under the state directory, one directory per
// source, named like its slot (a name safe in a path, unique per source).
func spillDir(stateDir string, src capture.Source) string {
	return filepath.Join(stateDir, "spill", src.SlotName())
}
