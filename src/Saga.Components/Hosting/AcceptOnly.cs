using MassTransit;

namespace Saga.Components.Hosting;

/// <summary>
/// A receive endpoint's gate: a message whose envelope names any type but the accepted ones goes to the
/// error queue unconsumed. Broker permissions say who may write to a queue; this says what they may
/// deliver there. The envelope lists every type a message claims to be, so one claiming an accepted type
/// beside another is refused too.
/// </summary>
public sealed class AcceptOnly(params Type[] accepted) : IFilter<ConsumeContext>
{
    private readonly HashSet<string> _accepted = accepted.Select(MessageUrn.ForTypeString).ToHashSet(StringComparer.Ordinal);

    public Task Send(ConsumeContext context, IPipe<ConsumeContext> next)
    {
        var claimed = context.SupportedMessageTypes.ToList();
        return claimed.Count > 0 && claimed.All(_accepted.Contains)
            ? next.Send(context)
            : throw new MessageNotAcceptedException(context.ReceiveContext.InputAddress, claimed);
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("acceptOnly").Add("accepted", string.Join(", ", _accepted));
}

public sealed class MessageNotAcceptedException(Uri? queue, IReadOnlyList<string> claimed)
    : Exception($"{queue} does not accept a message of type {string.Join(" + ", claimed.DefaultIfEmpty("(none)"))}");
