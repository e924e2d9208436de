package entra

// ServeTLS is serveTLS for the package's external tests.
var ServeTLS = serveTLS
