using Saga.Components.Security;

namespace Saga.Components.Tests.Security;

public sealed class DevelopmentKey_Specs
{
    [Fact]
    public void Callers_making_the_key_at_once_all_get_the_one_that_stays()
    {
        // Test classes, the CLI and hosts start together on a fresh clone: each may be first to need the key.
        for (var round = 0; round < 100; round++)
        {
            var run = Path.Combine(Path.GetTempPath(), "saga-key-" + Guid.NewGuid().ToString("N"));
            try
            {
                const int callers = 8;
                var keys = new string[callers];
                using var together = new Barrier(callers);
                var threads = Enumerable.Range(0, callers).Select(i => new Thread(() =>
                {
                    together.SignalAndWait();
                    keys[i] = DevelopmentKey.Load(run);
                })).ToList();
                threads.ForEach(t => t.Start());
                threads.ForEach(t => t.Join());

                var kept = DevelopmentKey.Load(run);
                Assert.True(DevelopmentKey.IsDevelopmentKey(kept));
                Assert.All(keys, key => Assert.Equal(kept, key));
            }
            finally
            {
                Directory.Delete(run, recursive: true);
            }
        }
    }
}
