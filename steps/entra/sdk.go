// Package entra holds rebind's Entra ID step types, which read and write
// users and the tenant through Microsoft Graph.
package entra

import (
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
)

// newGraphClient is a placeholder that pulls in the Graph SDK.
var newGraphClient = msgraphsdk.NewGraphServiceClientWithCredentials
