// Package awsrds serves, on localcloud's core, the subset of Amazon RDS
// that Haddock's AWS driver (internal/cloud/aws) uses, and the one Secrets
// Manager action its managed passwords need. RDS speaks the query protocol
// (form-encoded Action=...&Version=2014-10-31, answers
// <ActionResponse><ActionResult/><ResponseMetadata/></ActionResponse> in
// the 2014-10-31 namespace, errors <ErrorResponse><Error><Type/><Code/>
// <Message/></Error><RequestId/>), shapes as AWS's service model has them;
// contract/awsmodel checks every exchange against it (awsmodel.NewRDS).
//
//	ec2 := aws.New(aws.Config{})
//	db := awsrds.New(awsrds.Config{})
//	run, err := localcloud.Start(ctx, localcloud.Config{
//		APIs: []localcloud.API{ec2, db, db.Secrets()},
//		APIAddrs: map[string]string{aws.Name: "127.0.0.1:9081",
//			awsrds.Name: "127.0.0.1:9083", awsrds.SecretsName: "127.0.0.1:9084"},
//	})
//
// Both APIs are served at every path of their own listeners (APIAddrs)
// and under /rds/ and /secretsmanager/ on the main one, signed with SigV4
// for services rds and secretsmanager by the EC2 API's credentials
// (DevAccessKey), in the regions the EC2 API serves; request counters key
// them "rds:<Action>" and "secretsmanager:<Operation>". Records are kept
// under the core's lock and saved in the RDS API's part of the state file
// (with the passwords, as the vendor keeps them).
//
// # Actions
//
//	CreateDBInstance, DescribeDBInstances (one identifier or ARN, or all;
//	MaxRecords/Marker), ModifyDBInstance, DeleteDBInstance
//	Secrets Manager: GetSecretValue (by ARN or name)
//
// # Semantics
//
// Each DB instance is a real PostgreSQL server of the backend
// (Server.ApplyDatabase; netnsbackend: in a namespace of its own, TLS on
// with a certificate of this API's CA, made once and saved;
// CACertificateIdentifier "localcloud-ca"). Only engine postgres runs:
// mysql and RDS's other engines are refused with
// InvalidParameterCombination. EngineVersion reads back as given ("15"),
// 17.4 when absent. DBInstanceClass is any db.*, AllocatedStorage 20 to
// 65536 GiB (recorded; it grows by 10% at least and never shrinks, as on
// RDS). MultiAZ is recorded (with a SecondaryAvailabilityZone) but one
// server runs regardless. Port is not honoured: Endpoint.Port is the
// backend's (25060), Endpoint.Address the server's IP address.
//
// MasterUsername and MasterUserPassword make the admin;
// ManageMasterUserPassword generates the password and keeps it as the
// secret arn:aws:secretsmanager:<region>:<account>:secret:rds!db-<id>-<6>,
// SecretString {"username", "password"}, answered as MasterUserSecret
// (active) and served by the Secrets Manager API. DBName is created when
// given.
//
// Status: creating until the server accepts connections, then available
// (failed when the backend could not make it); DeleteDBInstance answers
// deleting and removes the server in the background, after which the
// identifier is DBInstanceNotFound. A final snapshot identifier is
// recorded (DBSnapshotAlreadyExists when reused) but no snapshot is taken
// and there is no snapshot API. ModifyDBInstance applies at once whatever
// ApplyImmediately says (no pending values, no maintenance window): class,
// storage, MultiAZ, PubliclyAccessible, CopyTagsToSnapshot and
// VpcSecurityGroupIds are recorded; a password change (given, or managed
// turned on) is applied to the server before it answers. Renaming,
// engine upgrades and port changes are refused.
//
// Security groups (VpcSecurityGroupIds) are recorded and answered, but
// they live in the EC2 API and localcloud does not enforce them: the
// server admits every client with the password, as the EC2 API documents
// for its groups. DescribeDBInstances Filters are refused; tags are
// served only through TagList (no AddTagsToResource/ListTagsForResource).
package awsrds
