package server

func (h *ingestHandler) ingestProfiles(req *request, p *payload) (int, error) {
	return 0, badPayload("not yet")
}
