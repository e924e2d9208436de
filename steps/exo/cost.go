package exo

import "github.com/rebind-dev/rebind/steps"

// The requests each step type declares it spends (steps.Costed): one
// InvokeCommand a cmdlet (more when an answer is paged). The target
// declares no budget and is not paced: Microsoft documents no request
// quota for the admin API the ExchangeOnlineManagement module's REST mode
// uses (the module's page, https://learn.microsoft.com/powershell/exchange/exchange-online-powershell-v2,
// says only that its cmdlets retry transient failures; the admin API
// itself is not a documented public API). Answers 429 and 503 are retried
// after their Retry-After, one request at a time (Client.post).
var (
	// getRecipient is one Get-Recipient.
	getRecipient = steps.Cost{Requests: 1}
	// getMailbox is Get-Mailbox with -IncludeInactiveMailbox and, when
	// that finds nothing, again with -SoftDeletedMailbox.
	getMailbox = steps.Cost{Requests: 2}
	// setOne is one Set-Mailbox or Remove-* cmdlet.
	setOne = steps.Cost{Requests: 1}
)

func (recipientData) RequestCosts() steps.RequestCosts {
	return steps.RequestCosts{Service: steps.ServiceExchange, Observe: getRecipient}
}

func (mailboxData) RequestCosts() steps.RequestCosts {
	return steps.RequestCosts{Service: steps.ServiceExchange, Observe: getMailbox}
}

// exo_recipient_purge reads the recipients, and the mailbox of a
// soft-deleted one for its hold; it removes each recipient to purge with
// one cmdlet (counted as one).
func (purgeStep) RequestCosts() steps.RequestCosts {
	return steps.RequestCosts{Service: steps.ServiceExchange, Observe: getRecipient.Add(getMailbox), Apply: setOne}
}

func (holdStep) RequestCosts() steps.RequestCosts {
	return steps.RequestCosts{Service: steps.ServiceExchange, Observe: getMailbox, Apply: setOne}
}

func (delayHoldStep) RequestCosts() steps.RequestCosts {
	return steps.RequestCosts{Service: steps.ServiceExchange, Observe: getMailbox, Apply: setOne}
}
