package awsmodel

import "testing"

func TestRDSModel(t *testing.T) {
	m, err := RDS()
	if err != nil {
		t.Fatal(err)
	}
	if m.Metadata.Protocol != "query" || m.Metadata.APIVersion != "2014-10-31" || m.Metadata.EndpointPrefix != "rds" {
		t.Errorf("RDS model metadata: %+v", m.Metadata)
	}
	for _, op := range []string{"CreateDBInstance", "DescribeDBInstances", "ModifyDBInstance", "DeleteDBInstance"} {
		if _, ok := m.Operations[op]; !ok {
			t.Errorf("RDS model has no %s", op)
		}
	}
	if _, err := NewRDS(); err != nil {
		t.Error(err)
	}
}
