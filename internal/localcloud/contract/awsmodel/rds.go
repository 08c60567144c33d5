package awsmodel

import (
	"fmt"
	"path/filepath"
	"sync"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/contract"
)

// RDSModelEnv names the environment variable that points at RDS's
// service-2.json.gz (or service-2.json).
const RDSModelEnv = "HADDOCK_AWS_RDS_MODEL"

var rdsModelRel = filepath.Join("specs", "aws-botocore", "rds", "2014-10-31", "service-2.json.gz")

// FindRDSModel returns the path of RDS's service model:
// $HADDOCK_AWS_RDS_MODEL, or
// shared/specs/aws-botocore/rds/2014-10-31/service-2.json.gz found walking
// up from the working directory (see contract.FindShared).
func FindRDSModel() (string, error) {
	p, err := contract.FindShared(RDSModelEnv, rdsModelRel)
	if err != nil {
		return "", fmt.Errorf("RDS service model not found: %w", err)
	}
	return p, nil
}

var (
	rdsOnce  sync.Once
	rdsModel *Model
	rdsErr   error
)

// RDS loads RDS's model (protocol "query") once per process.
func RDS() (*Model, error) {
	rdsOnce.Do(func() {
		p, err := FindRDSModel()
		if err == nil {
			rdsModel, err = LoadModel(p)
		}
		rdsErr = err
	})
	return rdsModel, rdsErr
}

// NewRDS returns a Validator over RDS's model (loaded once per process);
// with other validators on one localcloud, wrap it with
// OnlyService("rds", ...).
func NewRDS() (*Validator, error) {
	m, err := RDS()
	if err != nil {
		return nil, err
	}
	return NewFor(m), nil
}
