using MassTransit;

namespace Saga.Components.Security;

/// <summary>
/// Configuration section "Senders": the broker user each service connects as (infra/service-accounts.sh
/// creates them). The coordinator takes a transfer's commit only from its source ledger's user and its
/// credit's confirmation only from the credited ledger's; the scheduler redelivers a ledger's message only
/// to that ledger's own queue.
/// </summary>
public sealed class SenderOptions
{
    public const string Section = "Senders";

    private const string LedgerPlaceholder = "{ledger}";

    public string Coordinator { get; set; } = "saga-coordinator";

    /// <summary>A ledger's user, <c>{ledger}</c> standing for its id in lower case.</summary>
    public string Ledger { get; set; } = "saga-ledger-" + LedgerPlaceholder;

    public string LedgerUser(string ledgerId) => Ledger.Replace(LedgerPlaceholder, ledgerId.ToLowerInvariant(), StringComparison.Ordinal);

    /// <summary>The ledger whose user <paramref name="user"/> is, or null when it is no ledger's.</summary>
    public string? LedgerOf(string? user)
    {
        var at = Ledger.IndexOf(LedgerPlaceholder, StringComparison.Ordinal);
        var (prefix, suffix) = (Ledger[..at], Ledger[(at + LedgerPlaceholder.Length)..]);
        if (user is null || user.Length <= prefix.Length + suffix.Length || !user.StartsWith(prefix, StringComparison.Ordinal) ||
            !user.EndsWith(suffix, StringComparison.Ordinal))
        {
            return null;
        }
        var ledger = user[prefix.Length..^suffix.Length];
        return LedgerUser(ledger) == user ? ledger : null;
    }
}

/// <summary>
/// Who sent a message, as the broker vouches for it. Every host signs what it sends with its broker user
/// (AMQP's <c>user_id</c>, <see cref="SignAs"/>), and RabbitMQ refuses a message whose <c>user_id</c> is
/// not the user of the connection publishing it: a signature cannot be forged, only left out.
/// <see cref="User"/> is null for a message left unsigned.
/// </summary>
public sealed record SentBy(string? User)
{
    /// <summary>
    /// The sender of the message <paramref name="context"/> received, or null when its transport vouches for
    /// no one (MassTransit's in-memory test harness, where a spec may say who sent it as a payload).
    /// </summary>
    public static SentBy? Of(ReceiveContext context) =>
        context.TryGetPayload(out SentBy? given) ? given
        : context.TryGetPayload(out RabbitMqBasicConsumeContext? delivery) ? new SentBy(delivery.Properties.UserId)
        : null;

    public override string ToString() => User ?? "an unsigned sender";
}

/// <summary>Signs every message a bus sends or publishes over RabbitMQ with the broker user it connects as.</summary>
public sealed class SignAs(string user) : IFilter<SendContext>, IFilter<PublishContext>
{
    public Task Send(SendContext context, IPipe<SendContext> next)
    {
        Sign(context);
        return next.Send(context);
    }

    public Task Send(PublishContext context, IPipe<PublishContext> next)
    {
        Sign(context);
        return next.Send(context);
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("signAs").Add("user", user);

    /// <summary>Signs everything <paramref name="bus"/> sends or publishes with <paramref name="user"/>, the broker user it connects as.</summary>
    public static void Everything(IBusFactoryConfigurator bus, string user)
    {
        var sign = new SignAs(user);
        bus.ConfigureSend(s => s.UseFilter(sign));
        bus.ConfigurePublish(p => p.UseFilter(sign));
    }

    private void Sign(PipeContext context)
    {
        if (context.TryGetPayload(out RabbitMqSendContext? rabbit))
        {
            rabbit.BasicProperties.UserId = user;
        }
    }
}
