package entra

// ReprocessShim lets the engine tests (package entra_test) serve the lab
// with the stand-in for reprocessLicenseAssignment.
var ReprocessShim = reprocessShim
