package awsrds_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	lcaws "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/aws"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/awsrds"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/contract/awsmodel"
)

const region = "eu-central-1"

type rawEnv struct {
	run *localcloud.Running
	rds *rds.Client
	sm  *secretsmanager.Client
	v   *awsmodel.Validator
}

// startRaw runs the EC2, RDS and Secrets Manager APIs on the memory
// backend (state in dir when not ""), with SDK clients.
func startRaw(t *testing.T, dir string) *rawEnv {
	t.Helper()
	v, err := awsmodel.NewRDS()
	if err != nil {
		t.Fatal(err)
	}
	api := awsrds.New(awsrds.Config{})
	run, err := localcloud.Start(context.Background(), localcloud.Config{
		StateDir: dir,
		Backend:  localcloud.NewMemoryBackend(),
		APIs:     []localcloud.API{lcaws.New(lcaws.Config{}), api, api.Secrets()},
		APIAddrs: map[string]string{lcaws.Name: "127.0.0.1:0", awsrds.Name: "127.0.0.1:0", awsrds.SecretsName: "127.0.0.1:0"},
		Middleware: func(h http.Handler) http.Handler {
			return v.OnlyService("rds", h)
		},
		Logf: t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &rawEnv{run: run, rds: rdsClient(run, lcaws.DevSecretKey), sm: smClient(run, lcaws.DevSecretKey), v: v}
}

func rdsClient(run *localcloud.Running, secret string) *rds.Client {
	creds := credentials.NewStaticCredentialsProvider(lcaws.DevAccessKey, secret, "")
	return rds.New(rds.Options{Region: region, BaseEndpoint: awssdk.String(run.APIURLs[awsrds.Name]), Credentials: creds})
}

func smClient(run *localcloud.Running, secret string) *secretsmanager.Client {
	creds := credentials.NewStaticCredentialsProvider(lcaws.DevAccessKey, secret, "")
	return secretsmanager.New(secretsmanager.Options{Region: region, BaseEndpoint: awssdk.String(run.APIURLs[awsrds.SecretsName]), Credentials: creds})
}

// stop closes the server and checks the exchanges.
func (e *rawEnv) stop(t *testing.T) {
	t.Helper()
	_ = e.run.Close()
	e.v.Report(t)
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Errorf("%s: error %v, want %s", what, err, code)
	}
}

func createInput(id string) *rds.CreateDBInstanceInput {
	return &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: awssdk.String(id), Engine: awssdk.String("postgres"), EngineVersion: awssdk.String("15"),
		DBInstanceClass: awssdk.String("db.t4g.micro"), AllocatedStorage: awssdk.Int32(20), MasterUsername: awssdk.String("admin1"),
		MasterUserPassword: awssdk.String("s3cret-Passw0rd"), DBName: awssdk.String("defaultdb"),
		Tags: []rdstypes.Tag{{Key: awssdk.String("k"), Value: awssdk.String("v")}},
	}
}

// waitAvailable polls until the instance is available.
func waitAvailable(t *testing.T, c *rds.Client, id string) rdstypes.DBInstance {
	t.Helper()
	for range 100 {
		out, err := c.DescribeDBInstances(t.Context(), &rds.DescribeDBInstancesInput{DBInstanceIdentifier: awssdk.String(id)})
		if err != nil {
			t.Fatalf("DescribeDBInstances %s: %v", id, err)
		}
		if s := awssdk.ToString(out.DBInstances[0].DBInstanceStatus); s == "available" {
			return out.DBInstances[0]
		} else if s != "creating" {
			t.Fatalf("%s is %s", id, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never became available", id)
	return rdstypes.DBInstance{}
}

func TestErrors(t *testing.T) {
	e := startRaw(t, "")
	defer e.stop(t)
	ctx := t.Context()

	_, err := e.rds.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: awssdk.String("nope")})
	wantCode(t, "describe unknown", err, "DBInstanceNotFound")
	var nf *rdstypes.DBInstanceNotFoundFault
	if !errors.As(err, &nf) {
		t.Errorf("describe unknown: %T, want *DBInstanceNotFoundFault", err)
	}
	_, err = e.rds.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: awssdk.String("nope"), SkipFinalSnapshot: awssdk.Bool(true)})
	wantCode(t, "delete unknown", err, "DBInstanceNotFound")
	_, err = e.rds.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{DBInstanceIdentifier: awssdk.String("nope"), AllocatedStorage: awssdk.Int32(30)})
	wantCode(t, "modify unknown", err, "DBInstanceNotFound")

	in := createInput("lc-mysql")
	in.Engine = awssdk.String("mysql")
	_, err = e.rds.CreateDBInstance(ctx, in)
	wantCode(t, "mysql", err, "InvalidParameterCombination")

	in = createInput("lc-both")
	in.ManageMasterUserPassword = awssdk.Bool(true)
	_, err = e.rds.CreateDBInstance(ctx, in)
	wantCode(t, "password and managed password", err, "InvalidParameterCombination")

	in = createInput("lc-storage")
	in.AllocatedStorage = awssdk.Int32(10)
	_, err = e.rds.CreateDBInstance(ctx, in)
	wantCode(t, "10 GiB", err, "InvalidParameterValue")

	in = createInput("bad--name")
	_, err = e.rds.CreateDBInstance(ctx, in)
	wantCode(t, "bad identifier", err, "InvalidParameterValue")

	if _, err := e.rds.CreateDBInstance(ctx, createInput("lc-dup")); err != nil {
		t.Fatalf("CreateDBInstance: %v", err)
	}
	_, err = e.rds.CreateDBInstance(ctx, createInput("LC-DUP"))
	wantCode(t, "duplicate", err, "DBInstanceAlreadyExists")
	var ae *rdstypes.DBInstanceAlreadyExistsFault
	if !errors.As(err, &ae) {
		t.Errorf("duplicate: %T, want *DBInstanceAlreadyExistsFault", err)
	}
	waitAvailable(t, e.rds, "lc-dup")

	_, err = e.rds.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{DBInstanceIdentifier: awssdk.String("lc-dup"), AllocatedStorage: awssdk.Int32(20 - 1)})
	wantCode(t, "storage below 20", err, "InvalidParameterValue")
	_, err = e.rds.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{DBInstanceIdentifier: awssdk.String("lc-dup"), AllocatedStorage: awssdk.Int32(21)})
	wantCode(t, "storage grows by less than 10%", err, "InvalidParameterValue")
	_, err = e.rds.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: awssdk.String("lc-dup")})
	wantCode(t, "delete without snapshot choice", err, "InvalidParameterCombination")

	// Wrong key: refused by both APIs.
	_, err = rdsClient(e.run, "wrong").DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{})
	wantCode(t, "rds with a wrong key", err, "InvalidClientTokenId")
	_, err = smClient(e.run, "wrong").GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: awssdk.String("x")})
	wantCode(t, "secretsmanager with a wrong key", err, "UnrecognizedClientException")
	_, err = e.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: awssdk.String("arn:aws:secretsmanager:eu-central-1:123456789012:secret:nope-abcdef")})
	wantCode(t, "unknown secret", err, "ResourceNotFoundException")
	_, err = e.sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
	wantCode(t, "ListSecrets", err, "UnknownOperationException")
}

func secretOf(t *testing.T, sm *secretsmanager.Client, arn string) (user, password string) {
	t.Helper()
	out, err := sm.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: awssdk.String(arn)})
	if err != nil {
		t.Fatalf("GetSecretValue: %v", err)
	}
	var s struct{ Username, Password string }
	if err := json.Unmarshal([]byte(awssdk.ToString(out.SecretString)), &s); err != nil || s.Password == "" || awssdk.ToString(out.ARN) != arn {
		t.Fatalf("secret %+v: %v", out, err)
	}
	return s.Username, s.Password
}

func TestLifecycle(t *testing.T) {
	dir := t.TempDir()
	e := startRaw(t, dir)
	ctx := t.Context()

	in := createInput("lc-managed")
	in.MasterUserPassword, in.ManageMasterUserPassword, in.MultiAZ = nil, awssdk.Bool(true), awssdk.Bool(true)
	out, err := e.rds.CreateDBInstance(ctx, in)
	if err != nil {
		t.Fatalf("CreateDBInstance: %v", err)
	}
	if s := awssdk.ToString(out.DBInstance.DBInstanceStatus); s != "creating" && s != "available" {
		t.Errorf("created with status %s", s)
	}
	inst := waitAvailable(t, e.rds, "lc-managed")
	if inst.Endpoint == nil || awssdk.ToInt32(inst.Endpoint.Port) != 25060 || awssdk.ToString(inst.EngineVersion) != "15" || !awssdk.ToBool(inst.MultiAZ) ||
		awssdk.ToString(inst.CACertificateIdentifier) != "localcloud-ca" || len(inst.TagList) != 1 || awssdk.ToString(inst.DBName) != "defaultdb" {
		t.Errorf("instance %+v", inst)
	}
	if inst.MasterUserSecret == nil || awssdk.ToString(inst.MasterUserSecret.SecretStatus) != "active" {
		t.Fatalf("no master user secret: %+v", inst.MasterUserSecret)
	}
	arn := awssdk.ToString(inst.MasterUserSecret.SecretArn)
	user, pw := secretOf(t, e.sm, arn)
	if user != "admin1" || len(pw) < 8 {
		t.Errorf("secret %s / %d characters", user, len(pw))
	}

	// Many instances: DescribeDBInstances pages.
	for i := range 21 {
		if _, err := e.rds.CreateDBInstance(ctx, createInput(fmt.Sprintf("lc-page-%02d", i))); err != nil {
			t.Fatal(err)
		}
	}
	pages := rds.NewDescribeDBInstancesPaginator(e.rds, &rds.DescribeDBInstancesInput{MaxRecords: awssdk.Int32(20)})
	n, np := 0, 0
	for pages.HasMorePages() {
		p, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n, np = n+len(p.DBInstances), np+1
	}
	if n != 22 || np != 2 {
		t.Errorf("%d instances in %d pages, want 22 in 2", n, np)
	}

	// State survives a restart; the secret too.
	e.stop(t)
	e = startRaw(t, dir)
	defer e.stop(t)
	inst = waitAvailable(t, e.rds, "lc-managed")
	if u, p := secretOf(t, e.sm, arn); u != user || p != pw {
		t.Error("the secret changed across a restart")
	}

	// A password given ends management: the secret is gone.
	mod, err := e.rds.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{DBInstanceIdentifier: inst.DBInstanceIdentifier,
		MasterUserPassword: awssdk.String("an0ther-Passw0rd"), ManageMasterUserPassword: awssdk.Bool(false), DBInstanceClass: awssdk.String("db.t4g.small"),
		AllocatedStorage: awssdk.Int32(40), ApplyImmediately: awssdk.Bool(true)})
	if err != nil {
		t.Fatalf("ModifyDBInstance: %v", err)
	}
	if m := mod.DBInstance; m.MasterUserSecret != nil || awssdk.ToString(m.DBInstanceClass) != "db.t4g.small" || awssdk.ToInt32(m.AllocatedStorage) != 40 {
		t.Errorf("modified %+v", m)
	}
	_, err = e.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: awssdk.String(arn)})
	wantCode(t, "secret after management ended", err, "ResourceNotFoundException")

	// Deleted with a final snapshot; the name is then taken.
	if _, err := e.rds.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: inst.DBInstanceIdentifier,
		FinalDBSnapshotIdentifier: awssdk.String("lc-final")}); err != nil {
		t.Fatalf("DeleteDBInstance: %v", err)
	}
	w := rds.NewDBInstanceDeletedWaiter(e.rds, func(o *rds.DBInstanceDeletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 50*time.Millisecond
	})
	if err := w.Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: inst.DBInstanceIdentifier}, 10*time.Second); err != nil {
		t.Fatalf("waiting for the delete: %v", err)
	}
	_, err = e.rds.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: awssdk.String("lc-page-00"), FinalDBSnapshotIdentifier: awssdk.String("lc-final")})
	wantCode(t, "final snapshot name taken", err, "DBSnapshotAlreadyExists")
	if e.run.Server.Requests().Requests["rds:CreateDBInstance"] == 0 && e.run.Server.Requests().Requests["rds:DeleteDBInstance"] == 0 {
		t.Error("no rds:<Action> request counted")
	}
}
