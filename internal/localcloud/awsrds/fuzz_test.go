package awsrds_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	lcaws "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/aws"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/awsquery/awsquerytest"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/awsrds"
)

// FuzzRequestBodies sends arbitrary form bodies, signed, to every action
// of the RDS API in process, on the memory backend (no PostgreSQL):
// localcloud never panics and never answers 5xx to bad input (a client
// error is RDS's XML error with a code), and the API keeps working
// afterwards. A fixture instance "fz" exists.
func FuzzRequestBodies(f *testing.F) {
	actions := awsrds.Actions()
	at := func(action string) uint8 { return uint8(slices.Index(actions, action)) }
	f.Add(at("CreateDBInstance"), "DBInstanceIdentifier=db1&DBInstanceClass=db.t3.micro&Engine=postgres&EngineVersion=16.4&AllocatedStorage=20&MasterUsername=app&MasterUserPassword=secret123&DBName=app&Tags.Tag.1.Key=env&Tags.Tag.1.Value=prod&VpcSecurityGroupIds.VpcSecurityGroupId.1=sg-1")
	f.Add(at("CreateDBInstance"), "DBInstanceIdentifier=db2&DBInstanceClass=db.t3.micro&Engine=postgres&AllocatedStorage=20&MasterUsername=app&ManageMasterUserPassword=true&MultiAZ=true&PubliclyAccessible=false")
	f.Add(at("CreateDBInstance"), "DBInstanceIdentifier=-x-&DBInstanceClass=db.x&Engine=mysql&AllocatedStorage=99999999999999999999&MasterUsername=pg_x&MasterUserPassword=&Tags.Tag.99999999999999999999.Key=k")
	f.Add(at("ModifyDBInstance"), "DBInstanceIdentifier=fz&AllocatedStorage=40&ApplyImmediately=true&DBInstanceClass=db.t3.small&MasterUserPassword=another123")
	f.Add(at("ModifyDBInstance"), "DBInstanceIdentifier=fz&ManageMasterUserPassword=true&MasterUserPassword=x&AllocatedStorage=-20&ApplyImmediately=maybe")
	f.Add(at("DescribeDBInstances"), "DBInstanceIdentifier=fz")
	f.Add(at("DescribeDBInstances"), "MaxRecords=20&Marker=%25%25&Filters.Filter.1.Name=engine&Filters.Filter.1.Values.Value.1=postgres")
	f.Add(at("DeleteDBInstance"), "DBInstanceIdentifier=nope&SkipFinalSnapshot=true")
	f.Add(uint8(255), "%zz&;=")

	api := awsrds.New(awsrds.Config{})
	s := localcloud.New(localcloud.Config{Backend: localcloud.NewMemoryBackend(), APIs: []localcloud.API{api}})
	f.Cleanup(func() { _ = s.Close() })
	rds := awsquerytest.Client{Handler: s.APIHandler(awsrds.Name), Service: "rds", Region: "us-east-1", Version: "2014-10-31",
		AccessKey: lcaws.DevAccessKey, SecretKey: lcaws.DevSecretKey}
	if rec := rds.Call(f, "CreateDBInstance", "DBInstanceIdentifier=fz&DBInstanceClass=db.t3.micro&Engine=postgres&AllocatedStorage=20&MasterUsername=app&MasterUserPassword=secret123"); rec.Code != http.StatusOK {
		f.Fatalf("creating the fixture instance: %d %s", rec.Code, rec.Body)
	}

	f.Fuzz(func(t *testing.T, which uint8, form string) {
		action := actions[int(which)%len(actions)]
		what := fmt.Sprintf("%s with %q", action, form)
		awsquerytest.CheckAnswer(t, what, rds.Call(t, action, form), awsquerytest.Query)
		rds.Healthy(t, what, "DescribeDBInstances", "MaxRecords=20")
	})
}
