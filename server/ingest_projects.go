package server

import (
	"arb/ingest"
	"arb/storage"
)

// storeProjects gives HTTP ingestion the store's projects as Appliers:
// a storage.Project takes a validated batch whole, through its WAL on a
// single node and through the Raft log in a cluster.
type storeProjects struct{ store *storage.Store }

func (p storeProjects) Projects() []storage.ProjectInfo { return p.store.Projects() }

func (p storeProjects) Applier(name string) (ingest.Applier, bool) {
	proj, ok := p.store.Project(name)
	if !ok {
		// A nil *storage.Project in the interface would not be nil.
		return nil, false
	}
	return proj, true
}
