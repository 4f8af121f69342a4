"""Great Expectations suites as code, and a runner that tells success, failed and errored apart."""
