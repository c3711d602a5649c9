-- Payments whose saga is still moving (accepted, debited, or being compensated): the intake's
-- backpressure counts them a few times a second (app/payments-in-flight.ts), so the count reads
-- this small partial index instead of the whole table.
CREATE INDEX payments_in_flight_idx ON processor.payments (created_at)
  WHERE state IN ('PENDING', 'DEBITED', 'COMPENSATING');
