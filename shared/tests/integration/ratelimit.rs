//! The rate limiter against a real Redis behind an Upstash-REST-compatible endpoint, and in memory.

use secrecy::SecretString;
use std::time::{Duration, Instant};
use studio::ratelimit::{Limit, Limiter};
use studio_testing::UpstashDouble;

async fn window_suite(limiter: &Limiter) {
    let key = format!("test:rl:{}", uuid::Uuid::new_v4().simple());
    let window = Duration::from_millis(1500);
    for i in 0..3 {
        let d = limiter.check(&key, 3, window).await.unwrap();
        assert!(d.allowed, "request {i} is within the limit");
        assert_eq!(d.remaining, 2 - i);
        assert!(d.reset <= window);
    }
    let refused = limiter.check(&key, 3, window).await.unwrap();
    assert!(!refused.allowed, "the 4th request in the window is refused");
    assert_eq!((refused.limit, refused.remaining), (3, 0));
    assert!(refused.reset > Duration::ZERO && refused.reset <= window);
    // At the window's edge the oldest request leaves and exactly one more is admitted.
    tokio::time::sleep(refused.reset + Duration::from_millis(50)).await;
    assert!(limiter.check(&key, 3, window).await.unwrap().allowed);
    // Another key has its own window.
    let other = format!("{key}:other");
    assert!(limiter.check(&other, 3, window).await.unwrap().allowed);
}

/// Two limits of one request: the tight one refuses the third request, which then counts against
/// neither (the loose one still has all but two of its budget).
async fn all_at_once_suite(limiter: &Limiter) {
    let key = format!("test:rl:{}", uuid::Uuid::new_v4().simple());
    let window = Duration::from_secs(60);
    let limits = [
        Limit::window(format!("{key}:loose"), 10, window),
        Limit::window(format!("{key}:tight"), 2, window),
    ];
    for _ in 0..2 {
        let (admitted, d) = limiter.check_all(&limits).await.unwrap();
        assert!(admitted && d.iter().all(|d| d.allowed));
    }
    let (admitted, d) = limiter.check_all(&limits).await.unwrap();
    assert!(!admitted, "the tight limit refuses the third request");
    assert_eq!(
        d.iter()
            .map(|d| (d.allowed, d.remaining))
            .collect::<Vec<_>>(),
        vec![(true, 8), (false, 0)],
        "the refused request was counted against neither"
    );
    assert!(d[1].reset > Duration::ZERO && d[1].reset <= window);
}

/// A counter limit (tokens a workspace's answers used): the request only reads it — admitted while the
/// total added is under the limit, counted by nobody — and it resets when its fixed window, started by
/// the first addition, ends.
async fn counter_suite(limiter: &Limiter) {
    let key = format!("test:rl:{}", uuid::Uuid::new_v4().simple());
    let window = Duration::from_millis(1200);
    let limits = [
        Limit::counter(format!("{key}:tokens"), 100, window),
        Limit::window(format!("{key}:requests"), 10, Duration::from_secs(60)),
    ];
    let (admitted, d) = limiter.check_all(&limits).await.unwrap();
    assert!(admitted);
    assert_eq!(
        (d[0].remaining, d[1].remaining),
        (100, 9),
        "the check adds nothing to the counter"
    );
    assert_eq!(limiter.add(&limits[0].key, 60, window).await.unwrap(), 60);
    assert!(limiter.check_all(&limits).await.unwrap().0);
    assert_eq!(limiter.add(&limits[0].key, 45, window).await.unwrap(), 105);
    let (admitted, d) = limiter.check_all(&limits).await.unwrap();
    assert!(!admitted, "over the budget");
    assert!(!d[0].allowed && d[1].allowed);
    assert!(
        d[0].reset > Duration::ZERO && d[0].reset <= window,
        "{:?}",
        d[0].reset
    );
    assert_eq!(
        d[1].remaining, 8,
        "the refused request counted against no limit"
    );
    tokio::time::sleep(d[0].reset + Duration::from_millis(50)).await;
    let (admitted, d) = limiter.check_all(&limits).await.unwrap();
    assert!(admitted, "the window ended: {d:?}");
    assert_eq!(d[0].remaining, 100);
}

#[tokio::test]
async fn when_a_counter_budget_is_spent_it_refuses_until_its_window_ends_through_upstash_and_in_memory()
 {
    let (upstash, limiter) = through_upstash().await;
    let before = upstash.served();
    counter_suite(&limiter).await;
    assert_eq!(
        upstash.served() - before,
        6,
        "four checks and two additions, one request each"
    );
    counter_suite(&Limiter::memory()).await;
}

/// The Upstash-over-Redis double and a limiter talking to it.
async fn through_upstash() -> (UpstashDouble, Limiter) {
    let upstash = UpstashDouble::start().await;
    let limiter = Limiter::upstash(
        &upstash.url,
        SecretString::from(upstash.token.clone()),
        Duration::from_secs(1),
    )
    .unwrap();
    (upstash, limiter)
}

#[tokio::test]
async fn when_a_request_has_several_limits_they_are_checked_in_one_round_trip_and_a_refusal_counts_nowhere()
 {
    let (upstash, limiter) = through_upstash().await;
    let before = upstash.served();
    all_at_once_suite(&limiter).await;
    assert_eq!(
        upstash.served() - before,
        3,
        "three requests, three round trips"
    );
    all_at_once_suite(&Limiter::memory()).await;
}

#[tokio::test]
async fn when_checked_through_upstash_the_window_holds_at_its_edge_in_one_round_trip_per_check() {
    let (upstash, limiter) = through_upstash().await;
    let before = upstash.served();
    window_suite(&limiter).await;
    assert_eq!(
        upstash.served() - before,
        6,
        "six checks, six HTTP requests"
    );
}

#[tokio::test]
async fn when_checked_in_memory_the_same_window_holds() {
    window_suite(&Limiter::memory()).await;
}

#[tokio::test]
async fn when_upstash_is_down_or_refuses_the_token_the_check_fails_fast_and_says_why() {
    let down = Limiter::upstash(
        "http://127.0.0.1:9",
        SecretString::from("t".to_owned()),
        Duration::from_millis(300),
    )
    .unwrap();
    let started = Instant::now();
    assert!(down.check("k", 1, Duration::from_secs(1)).await.is_err());
    assert!(started.elapsed() < Duration::from_secs(2));
    let upstash = UpstashDouble::start().await;
    let wrong = Limiter::upstash(
        &upstash.url,
        SecretString::from("wrong".to_owned()),
        Duration::from_secs(1),
    )
    .unwrap();
    let err = wrong
        .check("k", 1, Duration::from_secs(1))
        .await
        .expect_err("unauthorized");
    assert!(err.to_string().contains("401"), "{err}");
}
