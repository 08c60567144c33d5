package aws

import "testing"

// TestLocalcloudFirewalls runs the firewall scenario of the moto test
// against localcloud's EC2 API, every exchange checked against AWS's
// service model.
func TestLocalcloudFirewalls(t *testing.T) {
	e := newLocalcloudEnv(t)
	n := e.v.Checked()
	fwScenario{d: e.d, raw: e.raw, region: lcRegion}.run(t)
	if e.v.Checked() == n {
		t.Error("the validator checked no exchange")
	}
	if got := e.run.Server.Requests().Requests["ec2:ModifyInstanceAttribute"]; got < 6 {
		t.Errorf("localcloud served %d ModifyInstanceAttribute, want 6 at least (attaching and detaching)", got)
	}
}
