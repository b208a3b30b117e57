package daemon

import "github.com/prometheus/client_golang/prometheus"

// scopedRegisterer registers collectors on reg and can remove them all
// again, so that a part of the pipeline that is started over can register
// its metrics anew.
type scopedRegisterer struct {
	reg        prometheus.Registerer
	collectors []prometheus.Collector
}

func (s *scopedRegisterer) Register(c prometheus.Collector) error {
	if err := s.reg.Register(c); err != nil {
		return err
	}
	s.collectors = append(s.collectors, c)
	return nil
}

func (s *scopedRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := s.Register(c); err != nil {
			panic(err)
		}
	}
}

func (s *scopedRegisterer) Unregister(c prometheus.Collector) bool { return s.reg.Unregister(c) }

func (s *scopedRegisterer) unregisterAll() {
	for _, c := range s.collectors {
		s.reg.Unregister(c)
	}
	s.collectors = nil
}
