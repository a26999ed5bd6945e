-- ADD COLUMN under lock_timeout, retried: each attempt waits at most 300 ms for its
-- ACCESS EXCLUSIVE lock (stalling the queries queued behind it for at most that long), then
-- steps aside for 500 ms so the queue drains, and tries again.
SET lock_timeout = '300ms';
DO $$
BEGIN
    FOR attempt IN 1..30 LOOP
        BEGIN
            ALTER TABLE users ADD COLUMN referrer bigint;
            RETURN;
        EXCEPTION WHEN lock_not_available THEN
            RAISE NOTICE 'attempt % timed out waiting for the lock', attempt;
            PERFORM pg_sleep(0.5);
        END;
    END LOOP;
    RAISE EXCEPTION 'gave up after 30 attempts';
END $$;
