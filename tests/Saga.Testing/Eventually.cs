using System.Collections;
using System.Diagnostics;
using Xunit;

namespace Saga.Testing;

/// <summary>
/// Waits for what the system does in its own time. A probe is asked again and again until its answer
/// is what the test waits for, and that answer is returned; once the time allowed has run out, the
/// test fails, naming what did not happen and the last answer seen. The time allowed is a ceiling,
/// never a wait: a test takes as long as the system does.
/// </summary>
public static class Eventually
{
    /// <summary>The time allowed when a caller names none.</summary>
    public static readonly TimeSpan DefaultWithin = TimeSpan.FromSeconds(30);

    /// <summary>The pause between two probes when a caller names none.</summary>
    public static readonly TimeSpan DefaultEvery = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// Asks <paramref name="probe"/> until <paramref name="done"/> holds of its answer, and returns that answer.
    /// A probe that throws fails the test at once: one that may meet a passing fault (a host restarting) catches it itself.
    /// </summary>
    /// <param name="what">What should happen, as a clause: "transfer 42 reached Completed".</param>
    /// <param name="describe">How the last answer reads in the failure; by default its text, or its items for a collection.</param>
    /// <param name="every">The pause between two probes: longer for a probe that costs a round trip through the hosts.</param>
    public static Task<T> Until<T>(Func<Task<T>> probe, Func<T, bool> done, string what,
        TimeSpan? within = null, Func<T, string>? describe = null, TimeSpan? every = null) =>
        Poll(probe, done, what, within, seen => describe is null ? Describe(seen) : describe(seen), every);

    /// <summary>Asks <paramref name="condition"/> until it holds.</summary>
    /// <param name="what">What should happen, as a clause: "the schedule was stored".</param>
    public static Task Until(Func<Task<bool>> condition, string what, TimeSpan? within = null, TimeSpan? every = null) =>
        Poll(condition, held => held, what, within, _ => null, every);

    /// <inheritdoc cref="Until(Func{Task{bool}}, string, TimeSpan?, TimeSpan?)"/>
    public static Task Until(Func<bool> condition, string what, TimeSpan? within = null, TimeSpan? every = null) =>
        Poll(() => Task.FromResult(condition()), held => held, what, within, _ => null, every);

    private static async Task<T> Poll<T>(Func<Task<T>> probe, Func<T, bool> done, string what,
        TimeSpan? within, Func<T, string?> describe, TimeSpan? every)
    {
        var allowed = within ?? DefaultWithin;
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var seen = await probe();
            if (done(seen))
            {
                return seen;
            }
            if (clock.Elapsed >= allowed)
            {
                var last = describe(seen) is { } text ? $" Last seen: {text}" : "";
                Assert.Fail($"Did not happen within {allowed.TotalSeconds:0.###} s: {what}.{last}");
            }
            await Task.Delay(every ?? DefaultEvery);
        }
    }

    private static string Describe<T>(T value) => value switch
    {
        null => "nothing",
        string text => text,
        IEnumerable items => $"[{string.Join(", ", items.Cast<object?>())}]",
        _ => value.ToString() ?? "",
    };
}
