package cluster

// Lookuper is what a DNS resolver asks, for fakes.
type Lookuper = lookuper

// DNSWith is DNS looking names up with l.
func DNSWith(target string, l Lookuper, opts ...Option) (Resolver, error) {
	r, err := DNS(target, opts...)
	if err != nil {
		return nil, err
	}
	r.(*dnsResolver).look = l
	return r, nil
}
